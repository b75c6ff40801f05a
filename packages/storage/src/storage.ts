// Where results live. Keys look like images/<job id>/<n>.png (imageKey).
export interface Storage {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /**
   * Optional: gets ready for a put of `key` that follows soon (the fs backend makes its folder), called while the
   * engine renders so that the put on the job's path has less to do. Best effort: what fails is left to the put (only a
   * bad key rejects), nothing to undo; the caller need not wait for it.
   */
  prepare?(key: string): Promise<void>;
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
  /** a time-limited URL a client can fetch directly, or null where the backend has none (fs) */
  signedUrl(key: string, expiresSeconds: number): Promise<string | null>;
}

/** The storage key of a job's n-th image (0-based). */
export function imageKey(jobId: string, n: number): string {
  return `images/${jobId}/${n}.png`;
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
