// The farm the A1111 tests run against: Redis, three tiny models (tiny, tiny-alt, tiny-cn with a ControlNet), one
// gateway and one worker process; torn down after the file's tests.
import { beforeAll, afterAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateModel } from '@farm/modelgen';
import { startRedis, type RedisServer } from '@farm/testkit';
import { farmEnv, startGatewayProcess, startWorkerProcess, waitForWorkers, type Proc } from './farm';

export interface A1111Farm {
  url: string;
  modelsDir: string;
}

/** Registers before/after hooks; the returned object is filled in once the farm is up. */
export function a1111Farm(env: (farm: A1111Farm) => Record<string, string> = () => ({})): A1111Farm {
  const farm: A1111Farm = { url: '', modelsDir: '' };
  let redis: RedisServer;
  let gateway: Proc & { url: string };
  let worker: Proc;
  beforeAll(async () => {
    redis = await startRedis();
    farm.modelsDir = mkdtempSync(join(tmpdir(), 'a1111-models-'));
    await generateModel({ preset: 'tiny', outDir: join(farm.modelsDir, 'tiny'), seed: 1, controlnet: false });
    await generateModel({ preset: 'tiny', outDir: join(farm.modelsDir, 'tiny-alt'), seed: 2, controlnet: false });
    await generateModel({ preset: 'tiny', outDir: join(farm.modelsDir, 'tiny-cn'), seed: 3 });
    const config = farmEnv({ redisUrl: redis.url, modelsDir: farm.modelsDir, env: env(farm) });
    gateway = await startGatewayProcess(config);
    worker = startWorkerProcess(config);
    farm.url = gateway.url;
    await waitForWorkers(gateway.url);
  });
  afterAll(async () => {
    await worker?.kill();
    await gateway?.kill();
    await redis?.stop();
  });
  return farm;
}
