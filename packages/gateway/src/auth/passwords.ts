// Password and API key hashes: scrypt for passwords (`scrypt$N$r$p$salt$hash`, base64), SHA-256 for API keys.
// Verification runs scrypt on libuv's thread pool (never on the event loop), at most `SCRYPT_CONCURRENCY` at a time
// per process, so a flood of bad logins queues up instead of starving every other request.
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { Semaphore } from '../limits/semaphore';

export const SCRYPT_CONCURRENCY = 2;
const slots = new Semaphore(SCRYPT_CONCURRENCY);

export function hashPassword(password: string, params = { N: 16384, r: 8, p: 1 }): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N: params.N, r: params.r, p: params.p });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, N, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await slots.run(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scrypt(
          password,
          Buffer.from(salt, 'base64'),
          expected.length,
          { N: Number(N), r: Number(r), p: Number(p), maxmem: 256 * Number(N) * Number(r) },
          (e, key) => (e ? reject(e) : resolve(key)),
        );
      }),
  );
  return timingSafeEqual(actual, expected);
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
