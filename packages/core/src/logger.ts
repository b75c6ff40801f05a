// The one way a process makes its logger: pino, JSON lines for log collectors (the default, and what production
// images use), or human-readable lines through pino-pretty (LOG_FORMAT=pretty, which `npm start` sets).
import pino, { type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

export function createLogger(opts: { level: string; format: LogFormat; role: string }): Logger {
  return pino({
    level: opts.level,
    base: { role: opts.role },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(opts.format === 'pretty'
      ? { transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  });
}
