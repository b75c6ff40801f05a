// The gateway process (npm run gateway, and the gateway image's entry point): one gateway from environment configuration.
import { loadConfig } from '@farm/core';
import { startGateway } from './index';

try {
  const gateway = await startGateway(loadConfig());
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
