// The random sources a request can pick (A1111's `randn_source` option, plus this farm's numpy stream) and the
// generator each one gives for a seed.
import type { RandnSource } from '@farm/core';
import { NumpyRandomState, type NoiseSource } from './numpy-random-state';
import { PhiloxGenerator } from './philox';
import { TorchCpuGenerator } from './torch-cpu-generator';

export { RANDN_SOURCES, type RandnSource } from '@farm/core';

/** numpy: diffusers' ONNX pipeline; GPU and NV: A1111's Philox imitation of torch.randn on CUDA; CPU: torch's CPU generator */
export function createGenerator(source: RandnSource, seed: number): NoiseSource {
  switch (source) {
    case 'GPU':
    case 'NV':
      return new PhiloxGenerator(seed);
    case 'CPU':
      return new TorchCpuGenerator(seed);
    case 'numpy':
      // numpy seeds are 32-bit: a seed moved past 2^32 by eta_noise_seed_delta wraps
      return new NumpyRandomState(seed % 2 ** 32);
  }
}
