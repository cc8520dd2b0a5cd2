import { backoffDelay } from "./backoff.ts";

/** Options of {@linkcode Poller}. */
export interface PollerOptions {
  /** Pause between rounds that found no more work. */
  pollMs: number;
  /** A round failed (`failures` in a row, from 1); the next one runs after a backoff. */
  onError: (error: unknown, failures: number) => void;
}

/**
 * Runs `round` again and again until stopped: at once while it reports more work, after
 * `pollMs` when it does not, sooner when {@linkcode Poller.notify} says there is new work, and
 * after an exponential backoff (up to 30 s) when it throws.
 */
export class Poller {
  readonly #round: () => Promise<boolean>;
  readonly #options: PollerOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #nudged = false;

  constructor(round: () => Promise<boolean>, options: PollerOptions) {
    this.#round = round;
    this.#options = options;
  }

  start(): void {
    this.#running = true;
    this.#loop ??= this.#run();
  }

  /** There is new work: run a round now rather than after the pause. */
  notify(): void {
    this.#nudged = true;
    this.#wake?.();
  }

  /** Stops after the round in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      let more: boolean;
      this.#nudged = false;
      try {
        more = await this.#round();
        failures = 0;
      } catch (error) {
        this.#options.onError(error, ++failures);
        await this.#sleep(backoffDelay(failures - 1, { maxMs: 30_000 }));
        continue;
      }
      if (!more && !this.#nudged) await this.#sleep(this.#options.pollMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
