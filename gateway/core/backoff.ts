/** Options of {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** First delay. Default 100 ms. */
  initialMs?: number;
  /** Cap. Default 10 s. */
  maxMs?: number;
  /** Random source in [0, 1). Default Math.random. */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0-based): exponential from initialMs, capped at maxMs,
 * jittered between 50% and 100% of that so many clients do not retry in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 10_000;
  const capped = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return capped * (0.5 + 0.5 * (options.random ?? Math.random)());
}
