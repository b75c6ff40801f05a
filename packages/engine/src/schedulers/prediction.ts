// What the model predicts (scheduler_config prediction_type) turned into what the samplers consume, as k-diffusion's
// CompVisDenoiser / CompVisVDenoiser and A1111's CompVisTimestepsVDenoiser do.
import type { PredictionType } from './tables';

/** sigma space (x = x0 + sigma * noise, the model sees x / sqrt(sigma² + 1)): the predicted x0 */
export function denoisedFromOutput(kind: PredictionType, out: Float32Array, x: Float32Array, sigma: number): Float32Array {
  const d = new Float32Array(x.length);
  if (kind === 'v_prediction') {
    const cSkip = 1 / (sigma * sigma + 1);
    const cOut = -sigma / Math.sqrt(sigma * sigma + 1);
    for (let i = 0; i < x.length; i++) d[i] = out[i] * cOut + x[i] * cSkip;
  } else {
    for (let i = 0; i < x.length; i++) d[i] = x[i] - sigma * out[i];
  }
  return d;
}

/** alpha space (x = sqrt(ā) x0 + sqrt(1 - ā) noise): the predicted noise */
export function epsFromOutput(kind: PredictionType, out: Float32Array, x: Float32Array, alphaBar: number): Float32Array {
  if (kind !== 'v_prediction') return out;
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  const eps = new Float32Array(out.length);
  for (let i = 0; i < out.length; i++) eps[i] = a * out[i] + b * x[i];
  return eps;
}
