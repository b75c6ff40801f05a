// The system's monotonic clock (process.hrtime), which every process on the machine shares: the benchmark's child
// processes (its client, its submitter) take their times with it, and the benchmark moves them onto its own clock
// (the workers' timings', performance.timeOrigin + now()) with monotonicOffset.
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** what to add to a monotonicMs() reading to put it on `clock` */
export const monotonicOffset = (clock: () => number): number => clock() - monotonicMs();
