/**
 * The buffer's commits made durable without blocking the event loop. SQLite's
 * `synchronous=FULL` in WAL mode is `synchronous=NORMAL` plus one fsync of the WAL file after
 * each commit; here the transaction runs with NORMAL (its frames are written to the WAL, in the
 * page cache) and that fsync runs as an async operation on Deno's blocking-thread pool. A
 * commit returns at once with a `durable` promise: the caller acknowledges the batch only when
 * it resolves, and may meanwhile commit the next batch, which shares the following fsync (group
 * commit). A slow fsync (tens of milliseconds on a busy disk) so delays acknowledgements, not
 * receiving, storing or forwarding.
 *
 * @module
 */
import { dirname } from "node:path";
import { backoffDelay } from "../core/backoff.ts";
import { errorMessage, PlantgateError } from "../core/errors.ts";
import type { Buffer, CommitResult, Intake } from "./buffer.ts";
import type { Committer } from "./ingest.ts";

/** fsync(2) of a file's data: opens it by path, so it always reaches the current file. */
export async function fsyncPath(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    await file.syncData();
  } finally {
    file.close();
  }
}

/** Options of {@linkcode DurableCommitter}. */
export interface DurableCommitterOptions {
  /** The fsync (tests inject failures). Default {@linkcode fsyncPath}. */
  fsync?: (path: string) => Promise<void>;
  /**
   * Called when a batch is stored, before its fsync: the forwarder may publish it at once (if
   * power is lost before the fsync, the broker re-delivers the unacknowledged messages and
   * JetStream drops the re-publish as a duplicate).
   */
  onStored?: () => void;
  /** A failed fsync, before it is retried (the edge logs it and counts buffer_write_failed). */
  onFsyncError?: (error: PlantgateError, attempt: number) => void;
  /** Retry backoff of a failed fsync. Default 100 ms doubling to 5 s. */
  backoff?: { initialMs?: number; maxMs?: number };
}

/**
 * Commits batches into a {@linkcode Buffer} opened with `syncCommits: false` and fsyncs its WAL
 * asynchronously, one fsync at a time, each covering every commit made before it started.
 */
export class DurableCommitter implements Committer {
  readonly #buffer: Buffer;
  readonly #wal: string;
  readonly #options: DurableCommitterOptions;
  readonly #fsync: (path: string) => Promise<void>;
  /** The fsync running now. */
  #running: Promise<void> | undefined;
  /** The fsync that starts after it, for commits made while it runs. */
  #queued: Promise<void> | undefined;
  #closed = false;

  private constructor(buffer: Buffer, options: DurableCommitterOptions) {
    this.#buffer = buffer;
    this.#wal = `${buffer.path}-wal`;
    this.#options = options;
    this.#fsync = options.fsync ?? fsyncPath;
  }

  /**
   * Wraps an open buffer; fsyncs its folder once, so the database and WAL files themselves
   * survive a power loss after their creation.
   */
  static async open(
    buffer: Buffer,
    options: DurableCommitterOptions = {},
  ): Promise<DurableCommitter> {
    const committer = new DurableCommitter(buffer, options);
    const folder = dirname(buffer.path);
    try {
      await committer.#fsync(folder);
    } catch (error) {
      throw new PlantgateError(
        "buffer_write_failed",
        `Cannot fsync the buffer's folder ${folder}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return committer;
  }

  /** Bytes counted against maxBytes. */
  get usedBytes(): number {
    return this.#buffer.usedBytes;
  }

  /** buffer.maxBytes. */
  get maxBytes(): number {
    return this.#buffer.maxBytes;
  }

  /**
   * Commits in one transaction (throws the buffer's error codes: nothing stored). `durable`
   * resolves once an fsync that started after this commit succeeded; a failed fsync is
   * retried (capped backoff) until it succeeds or the committer is closed.
   */
  commit(intakes: Intake[]): { result: CommitResult; durable: Promise<void> } {
    const result = this.#buffer.commit(intakes);
    if (result.stored > 0) this.#options.onStored?.();
    return { result, durable: this.#sync() };
  }

  /**
   * Stops retrying failed fsyncs (their `durable` rejects: not acknowledged, the broker
   * re-delivers) and waits for the fsyncs in progress.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queued?.catch(() => {});
    await this.#running?.catch(() => {});
  }

  #sync(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#fsyncUntilDone().finally(() => this.#running = undefined);
      return this.#running;
    }
    // The running fsync may have started before this commit wrote: take the next one.
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined;
      return this.#sync();
    });
    return this.#queued;
  }

  async #fsyncUntilDone(): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        await this.#fsync(this.#wal);
        return;
      } catch (error) {
        const failure = new PlantgateError(
          "buffer_write_failed",
          `Cannot fsync the buffer's WAL ${this.#wal}: ${errorMessage(error)}`,
          { cause: error },
        );
        if (this.#closed) throw failure;
        this.#options.onFsyncError?.(failure, attempt + 1);
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.#options.backoff ?? {})));
      }
    }
  }
}
