/**
 * The buffer's commits made durable without blocking the event loop. SQLite's
 * `synchronous=FULL` in WAL mode is `synchronous=NORMAL` plus one fsync of the WAL file after
 * each commit; here the transaction runs with NORMAL (its frames are written to the WAL, in the
 * page cache) and that fsync runs as an async operation on Deno's blocking-thread pool, so the
 * event loop keeps receiving, forwarding and acknowledging meanwhile. A commit resolves only
 * after its fsync: the caller acknowledges nothing that is not on disk.
 *
 * @module
 */
import { dirname } from "node:path";
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
}

/**
 * Commits batches into a {@linkcode Buffer} opened with `syncCommits: false`, then fsyncs its
 * WAL asynchronously. Batches are committed one after another by the caller (the MQTT
 * subscriber hands over one batch at a time).
 */
export class DurableCommitter implements Committer {
  readonly #buffer: Buffer;
  readonly #wal: string;
  readonly #fsync: (path: string) => Promise<void>;
  readonly #onStored: (() => void) | undefined;

  private constructor(buffer: Buffer, options: DurableCommitterOptions) {
    this.#buffer = buffer;
    this.#wal = `${buffer.path}-wal`;
    this.#fsync = options.fsync ?? fsyncPath;
    this.#onStored = options.onStored;
  }

  /**
   * Wraps an open buffer; fsyncs its folder once, so the database and WAL files themselves
   * survive a power loss after their creation.
   */
  static async open(
    buffer: Buffer,
    options: DurableCommitterOptions = {},
  ): Promise<DurableCommitter> {
    const fsync = options.fsync ?? fsyncPath;
    try {
      await fsync(dirname(buffer.path));
    } catch (error) {
      throw new PlantgateError(
        "buffer_write_failed",
        `Cannot fsync the buffer's folder ${dirname(buffer.path)}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return new DurableCommitter(buffer, options);
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
   * Commits in one transaction and resolves after the WAL's fsync; rejects with the buffer's
   * error codes, or `buffer_write_failed` when the fsync fails (the batch is then not
   * acknowledged; its re-delivery is absorbed by the dedupe).
   */
  async commit(intakes: Intake[]): Promise<CommitResult> {
    const result = this.#buffer.commit(intakes);
    if (result.stored > 0) this.#onStored?.();
    try {
      await this.#fsync(this.#wal);
    } catch (error) {
      throw new PlantgateError(
        "buffer_write_failed",
        `Cannot fsync the buffer's WAL ${this.#wal}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return result;
  }
}
