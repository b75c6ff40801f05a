// The LoRAs under LORA_DIR: every .safetensors file, named by its file name without the extension.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface LoraInfo {
  name: string;
  path: string;
}

export function listLoras(dir?: string): LoraInfo[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort()
    .map((f) => ({ name: f.slice(0, -'.safetensors'.length), path: join(dir, f) }));
}
