// A1111's "SD upscale" img2img script (scripts/sd_upscale.py): its positional script_args [info, overlap,
// upscaler_index, scale_factor] with the UI's defaults (64, 0 = "None", 2), resolved against the farm's upscaler list
// in /sdapi/v1/upscalers order. Any other selectable script is A1111's 422 "Script 'x' not found".
import { A1111HttpError, A1111ValidationError } from './a1111';
import { BUILTIN_UPSCALERS } from './upscalers';
import type { SdUpscaleParams } from './types';

export const SD_UPSCALE_SCRIPT = 'SD upscale';

/** The script a request names, resolved; null when it names none. */
export function parseSdUpscaleScript(
  kind: 'txt2img' | 'img2img',
  scriptName: string | null,
  scriptArgs: unknown[],
  upscalers: string[],
  tile: { width: number; height: number },
): SdUpscaleParams | null {
  if (scriptName === null || scriptName === '') return null;
  // A1111 matches script titles case-insensitively; SD upscale is an img2img script only
  if (kind !== 'img2img' || scriptName.toLowerCase() !== SD_UPSCALE_SCRIPT.toLowerCase()) throw new A1111HttpError(422, `Script '${scriptName}' not found`);
  const bad = (i: number, msg: string) => new A1111ValidationError([{ loc: ['body', 'script_args', i], msg, type: 'value_error' }]);
  const arg = (i: number) => (scriptArgs.length > i && scriptArgs[i] !== null ? scriptArgs[i] : undefined);
  const names = [...BUILTIN_UPSCALERS, ...upscalers];
  const overlap = arg(1) ?? 64;
  if (typeof overlap !== 'number' || !Number.isInteger(overlap) || overlap < 0) throw bad(1, 'SD upscale overlap must be a whole number of pixels, 0 or more');
  if (overlap >= Math.min(tile.width, tile.height))
    throw bad(1, `SD upscale overlap ${overlap} must be smaller than the tile (width x height = ${tile.width}x${tile.height})`);
  const index = arg(2) ?? 0;
  const upscaler = typeof index === 'string' && names.includes(index) ? index : typeof index === 'number' && Number.isInteger(index) ? names[index] : undefined;
  if (upscaler === undefined)
    throw bad(
      2,
      `SD upscale upscaler ${JSON.stringify(index)} is not an index into (or a name of) the upscalers: ${names.map((n, i) => `${i} ${n}`).join(', ')}`,
    );
  const scale = arg(3) ?? 2;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0 || scale > 16)
    throw bad(3, 'SD upscale scale_factor must be a number above 0 (at most 16)');
  return { overlap, upscaler, scale_factor: scale };
}
