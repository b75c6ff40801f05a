// Live previews of running jobs (A1111's current_image): the latest PNG per job, kept briefly, and a pub/sub channel
// per job so SSE streams in any gateway can pass each one on.
import type { Redis } from 'ioredis';
import type { FarmKeys } from './keys';
import { redisOp } from './redis';

export interface Preview {
  step: number;
  image: string; /* base64 PNG */
}

const PREVIEW_TTL_SECONDS = 600;

export class PreviewStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: FarmKeys,
  ) {}

  async set(jobId: string, step: number, png: Buffer): Promise<void> {
    const value = JSON.stringify({ step, image: png.toString('base64') } satisfies Preview);
    await redisOp(() =>
      this.redis.multi().set(this.keys.preview(jobId), value, 'EX', PREVIEW_TTL_SECONDS).publish(this.keys.previewChannel(jobId), value).exec(),
    );
  }

  async get(jobId: string): Promise<Preview | null> {
    const raw = await redisOp(() => this.redis.get(this.keys.preview(jobId)));
    return raw ? (JSON.parse(raw) as Preview) : null;
  }
}
