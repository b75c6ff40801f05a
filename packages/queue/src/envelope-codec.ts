// How an envelope is kept in Redis: a hash with one field per envelope field, each value JSON text. The life cycle's
// scripts change single fields and assemble the whole envelope for pub/sub without ever decoding JSON in Lua (Redis'
// cjson turns [] into {} and rounds numbers to 14 digits).
import type { JobEnvelope } from './types';

/** Every stored field; `queue_position` is not stored (it is read from BullMQ when asked). */
const FIELDS = [
  'id',
  'owner',
  'status',
  'input',
  'output',
  'error',
  'progress',
  'webhook',
  'deliveries',
  'cancel_requested',
  'created_at',
  'started_at',
  'completed_at',
  'worker_id',
  'attempts',
  'batch_size',
  'request_id',
] as const;

/** Field/value pairs for HSET. */
export function encodeFields(fields: Partial<JobEnvelope>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (k !== 'queue_position' && v !== undefined) out.push(k, JSON.stringify(v));
  }
  return out;
}

export function encodeEnvelope(e: JobEnvelope): string[] {
  const picked: Partial<JobEnvelope> = {};
  for (const f of FIELDS) (picked as Record<string, unknown>)[f] = e[f];
  return encodeFields(picked);
}

/** An HGETALL answer (or the JSON the scripts assemble) back into an envelope; null when the job does not exist. */
export function decodeHash(hash: Record<string, string>): JobEnvelope | null {
  if (!hash.id) return null;
  const e: Record<string, unknown> = { queue_position: null };
  for (const [k, v] of Object.entries(hash)) e[k] = JSON.parse(v);
  return e as unknown as JobEnvelope;
}

export function decodeJson(json: string): JobEnvelope {
  return { queue_position: null, ...(JSON.parse(json) as Omit<JobEnvelope, 'queue_position'>) } as JobEnvelope;
}
