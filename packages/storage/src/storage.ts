// Where results live. Keys look like images/<job id>/<n>.png.
export interface Storage {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
  /** a time-limited URL a client can fetch directly, or null where the backend has none (fs) */
  signedUrl(key: string, expiresSeconds: number): Promise<string | null>;
}

export type StorageConfig =
  | { kind: 'fs'; dir: string }
  | {
      kind: 's3';
      bucket: string;
      region: string;
      endpoint?: string;
      forcePathStyle?: boolean;
      accessKeyId?: string;
      secretAccessKey?: string;
      createBucket?: boolean;
    };

export function assertSafeKey(key: string): void {
  if (key.length === 0 || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '') || key.includes('\\') || key.includes('\0')) {
    throw new Error(`invalid storage key "${key}"`);
  }
}
