// Models whose inputs or outputs are float16 (fp16 exports): the pipeline keeps working in float32, and this wrapper
// converts at the session's edge with the farm's one float16 converter (@farm/core; Node 20 has no Float16Array).
import * as ort from 'onnxruntime-node';
import { fromFloat16Array, toFloat16Array } from '@farm/core';

interface IoMeta {
  name: string;
  type?: string;
}

/** The session itself when it has no float16 IO; else one whose run takes and gives float32 for those names. */
export function withFloat32Io(session: ort.InferenceSession): ort.InferenceSession {
  const meta = (list: unknown) => (Array.isArray(list) ? (list as IoMeta[]) : []);
  const halfIn = new Set(
    meta((session as unknown as { inputMetadata?: unknown }).inputMetadata)
      .filter((m) => m.type === 'float16')
      .map((m) => m.name),
  );
  const halfOut = meta((session as unknown as { outputMetadata?: unknown }).outputMetadata).some((m) => m.type === 'float16');
  if (halfIn.size === 0 && !halfOut) return session;
  // the text states feed every step unchanged: convert each array once
  const converted = new WeakMap<Float32Array, Uint16Array>();
  const half = (data: Float32Array) => {
    let bits = converted.get(data);
    if (!bits) converted.set(data, (bits = toFloat16Array(data)));
    return bits;
  };
  const run = async (feeds: Record<string, ort.Tensor>, ...rest: unknown[]) => {
    const inputs = Object.fromEntries(
      Object.entries(feeds).map(([name, t]) => [
        name,
        halfIn.has(name) && t.type === 'float32' ? new ort.Tensor('float16', half(t.data as Float32Array), t.dims) : t,
      ]),
    );
    const out = await (session.run as (...a: unknown[]) => Promise<Record<string, ort.Tensor>>)(inputs, ...rest);
    return Object.fromEntries(
      Object.entries(out).map(([name, t]) => [name, t.type === 'float16' ? new ort.Tensor('float32', fromFloat16Array(t.data as Uint16Array), t.dims) : t]),
    );
  };
  return new Proxy(session, {
    get(target, prop) {
      if (prop === 'run') return run;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
