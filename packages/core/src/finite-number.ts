// A request number that must be finite. zod 4 refuses Infinity (1e309 in JSON parses to it) as "expected number,
// received number"; this names the problem instead.
import { z } from 'zod/v4';

export const finiteNumber = z.number({ error: (issue) => (typeof issue.input === 'number' ? 'Number must be finite' : undefined) });
