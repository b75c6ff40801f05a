// Where a generate call's time goes, measured inside the loop: every session.run is timed and attributed to its
// network (text encoder, UNet, VAE decoder); the UNet loop's wall time (first UNet call start to last UNet call end)
// against the time spent inside those UNet calls gives the pipeline overhead between steps; what is left after the
// last VAE call is PNG encoding (overlapped with the VAE except for the last chunk).
import * as ort from 'onnxruntime-node';

export type Network = 'text_encoder' | 'unet' | 'vae_decoder' | 'controlnet' | 'cond_embedding' | 'other';
export interface Profile {
  wallMs: number;
  insideMs: Record<Network, number>;
  calls: Record<Network, number>;
  /** UNet loop: first UNet (or ControlNet) call start to last UNet call end */
  unetLoopWallMs: number;
  /** after the last VAE decoder call ends until generate returns */
  afterVaeMs: number;
}

function networkOf(session: ort.InferenceSession): Network {
  const inputs = session.inputNames;
  if (inputs.includes('input_ids')) return 'text_encoder';
  if (inputs.includes('latent_sample')) return 'vae_decoder';
  if (inputs.length === 1 && inputs[0] === 'controlnet_cond') return 'cond_embedding';
  if (inputs.includes('controlnet_cond') || inputs.includes('controlnet_cond_embedding')) return 'controlnet';
  if (inputs.includes('timestep') && inputs.includes('encoder_hidden_states')) return 'unet';
  return 'other';
}

let active: { profile: Profile; unetFirst: number; unetLast: number; vaeLast: number } | null = null;
const proto = (ort.InferenceSession as unknown as { prototype: unknown }).prototype as { run: (...a: unknown[]) => Promise<unknown> };
const original = proto.run;
proto.run = async function (this: ort.InferenceSession, ...args: unknown[]) {
  if (!active) return original.apply(this, args);
  const net = networkOf(this);
  const t0 = performance.now();
  try {
    return await original.apply(this, args);
  } finally {
    const t1 = performance.now();
    const a = active;
    if (a) {
      a.profile.insideMs[net] += t1 - t0;
      a.profile.calls[net] += 1;
      if (net === 'unet' || net === 'controlnet') {
        if (a.unetFirst === 0) a.unetFirst = t0;
        a.unetLast = t1;
      }
      if (net === 'vae_decoder') a.vaeLast = t1;
    }
  }
};

/** Runs `fn` (one generate call) with every session.run timed. */
export async function profiled(fn: () => Promise<unknown>): Promise<Profile> {
  const zero = (): Record<Network, number> => ({ text_encoder: 0, unet: 0, vae_decoder: 0, controlnet: 0, cond_embedding: 0, other: 0 });
  const profile: Profile = { wallMs: 0, insideMs: zero(), calls: zero(), unetLoopWallMs: 0, afterVaeMs: 0 };
  active = { profile, unetFirst: 0, unetLast: 0, vaeLast: 0 };
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    const end = performance.now();
    profile.wallMs = end - t0;
    profile.unetLoopWallMs = active.unetLast - active.unetFirst;
    profile.afterVaeMs = active.vaeLast > 0 ? end - active.vaeLast : 0;
    active = null;
  }
  return profile;
}
