// Upscaler names as A1111 lists them: the latent upscale modes (shared.latent_upscale_modes, torch interpolate
// settings) and the built-in pixel upscalers; upscaler models add their own names (ONNX files in UPSCALERS_DIR).

export interface LatentUpscaleMode {
  mode: 'bilinear' | 'bicubic' | 'nearest' | 'nearest-exact';
  antialias: boolean;
}

export const LATENT_UPSCALE_MODES: Readonly<Record<string, LatentUpscaleMode>> = {
  Latent: { mode: 'bilinear', antialias: false },
  'Latent (antialiased)': { mode: 'bilinear', antialias: true },
  'Latent (bicubic)': { mode: 'bicubic', antialias: false },
  'Latent (bicubic antialiased)': { mode: 'bicubic', antialias: true },
  'Latent (nearest)': { mode: 'nearest', antialias: false },
  'Latent (nearest-exact)': { mode: 'nearest-exact', antialias: false },
};

export const DEFAULT_LATENT_UPSCALE_MODE = 'Latent';

/** Pixel upscalers every worker has (sharp): "None" resizes with Lanczos where a size must be reached, as A1111's does. */
export const BUILTIN_UPSCALERS = ['None', 'Lanczos', 'Nearest'] as const;

export function isLatentUpscaler(name: string): boolean {
  return Object.hasOwn(LATENT_UPSCALE_MODES, name);
}
