/**
 * The buffer's fsync'd commits, in a worker thread: a commit blocks for the fsync (milliseconds
 * on a busy disk), and on the main thread that would stall receiving, forwarding and acks.
 * The main thread keeps its own connection for reads and (unsynced) deletes.
 *
 * @module
 */
import { PlantgateError } from "../core/errors.ts";
import { Buffer, type BufferOptions, type CommitResult, type Intake } from "./buffer.ts";

type Request =
  | { type: "open"; path: string; options: BufferOptions }
  | { type: "commit"; id: number; intakes: Intake[] }
  | { type: "close" };

type Reply =
  | { id: number; ok: true; result: CommitResult }
  | { id: number; ok: false; code: PlantgateError["code"]; message: string };

/**
 * Commits on a worker thread for the main thread's {@linkcode Buffer}: checks maxBytes there
 * (the main thread also sees the deletes), then counts what the worker stored.
 */
export class CommitWorker {
  readonly #worker: Worker;
  readonly #main: Buffer;
  readonly #pending = new Map<
    number,
    { resolve: (r: CommitResult) => void; reject: (e: Error) => void }
  >();
  #next = 0;

  private constructor(worker: Worker, main: Buffer) {
    this.#worker = worker;
    this.#main = main;
    worker.onmessage = (event: MessageEvent<Reply>) => {
      const reply = event.data;
      const waiter = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (!waiter) return;
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new PlantgateError(reply.code, reply.message));
    };
  }

  /** Starts the worker and opens the buffer in it (the buffer's quota applies there). */
  static start(main: Buffer, options: BufferOptions): CommitWorker {
    const worker = new Worker(new URL("./commit_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const self = new CommitWorker(worker, main);
    worker.postMessage({ type: "open", path: main.path, options } satisfies Request);
    return self;
  }

  /** Bytes counted against maxBytes. */
  get usedBytes(): number {
    return this.#main.usedBytes;
  }

  /** buffer.maxBytes. */
  get maxBytes(): number {
    return this.#main.maxBytes;
  }

  /**
   * Commits in one fsync'd transaction; rejects with the buffer's error codes. A full buffer
   * refuses new batches (one batch may take it past maxBytes).
   */
  async commit(intakes: Intake[]): Promise<CommitResult> {
    if (this.#main.usedBytes >= this.#main.maxBytes) {
      throw new PlantgateError(
        "buffer_full",
        `Cannot buffer ${intakes.length} message(s): buffer holds ${this.#main.usedBytes} of ${this.#main.maxBytes} bytes (buffer.maxBytes); not acknowledging, the broker keeps them`,
      );
    }
    const id = ++this.#next;
    const result = await new Promise<CommitResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: "commit", id, intakes } satisfies Request);
    });
    this.#main.applyCommit(result);
    return result;
  }

  /** Closes the buffer in the worker and ends the thread. */
  close(): void {
    this.#worker.postMessage({ type: "close" } satisfies Request);
    this.#worker.terminate();
    for (const waiter of this.#pending.values()) {
      waiter.reject(
        new PlantgateError("buffer_write_failed", "Cannot commit: the buffer was closed"),
      );
    }
    this.#pending.clear();
  }
}

// The worker side.
if (
  !("document" in globalThis) &&
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined"
) {
  let buffer: Buffer | undefined;
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<Request>) => void) | null;
    postMessage(m: Reply): void;
  };
  scope.onmessage = (event) => {
    const request = event.data;
    if (request.type === "open") {
      // maxBytes is checked on the main thread, which also sees deletes.
      buffer = Buffer.open(request.path, { ...request.options, maxBytes: Number.MAX_SAFE_INTEGER });
    } else if (request.type === "close") {
      buffer?.close();
      buffer = undefined;
    } else {
      try {
        if (!buffer) {
          throw new PlantgateError("buffer_write_failed", "Cannot commit: buffer not open");
        }
        scope.postMessage({ id: request.id, ok: true, result: buffer.commit(request.intakes) });
      } catch (error) {
        const e = error instanceof PlantgateError
          ? error
          : new PlantgateError("buffer_write_failed", String(error));
        scope.postMessage({ id: request.id, ok: false, code: e.code, message: e.message });
      }
    }
  };
}
