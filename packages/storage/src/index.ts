import { FsStorage } from './fs-storage';
import { S3Storage } from './s3-storage';
import type { Storage, StorageConfig } from './storage';

export * from './storage';
export { FsStorage } from './fs-storage';
export { S3Storage } from './s3-storage';

export function createStorage(cfg: StorageConfig): Storage {
  return cfg.kind === 'fs' ? new FsStorage(cfg.dir) : new S3Storage(cfg);
}
