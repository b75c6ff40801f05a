// One network's weights in a checkpoint, seen under diffusers/transformers parameter names whatever the file calls
// them: the builder reads through it (WeightSource), config inference asks it for shapes, and after the graph has
// named every parameter it needs, what the file lacks (missing) and what the graph never asked for (unexpected).
import type { SafetensorsFile } from '@farm/engine/lora';
import type { WeightSource } from '../onnx-builder';
import { CheckpointError } from './checkpoint-error';

export class WeightView implements WeightSource {
  private readonly present: Set<string>;

  /** `candidates(key)`: the file names that may hold diffusers parameter `key`, in order of preference;
   * `owned`: the file's tensor names that belong to this network. */
  constructor(
    readonly label: string,
    private readonly file: SafetensorsFile,
    private readonly candidates: (key: string) => string[],
    readonly owned: string[],
  ) {
    this.present = new Set(owned);
  }

  find(key: string): string | undefined {
    return this.candidates(key).find((k) => this.present.has(k));
  }

  has(key: string): boolean {
    return this.find(key) !== undefined;
  }

  shape(key: string): number[] | undefined {
    const name = this.find(key);
    return name === undefined ? undefined : this.file.shape(name);
  }

  read(key: string, count: number): Float32Array {
    const name = this.find(key);
    if (name === undefined) throw new CheckpointError(`${this.label}: no tensor for ${key}`);
    const data = this.file.read(name);
    if (data.length !== count)
      throw new CheckpointError(`${this.label}: ${name} has shape [${this.file.shape(name)}] (${data.length} values), the graph needs ${count} for ${key}`);
    return data;
  }

  /** Missing and unexpected names once the graph's parameters are known. */
  check(required: string[], ignore: RegExp): { missing: string[]; unexpected: string[] } {
    const used = new Set<string>();
    const missing: string[] = [];
    for (const key of required) {
      const name = this.find(key);
      if (name === undefined) missing.push(key);
      else used.add(name);
    }
    return { missing, unexpected: this.owned.filter((n) => !used.has(n) && !ignore.test(n)) };
  }
}

/** Distinct values of the numeric segment right after `prefix` in `names` (`down_blocks.` -> 0, 1, 2, 3). */
export function indicesOf(names: Iterable<string>, prefix: string): number[] {
  const found = new Set<number>();
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)\./.exec(name.slice(prefix.length)) : null;
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}
