/**
 * What the job publisher reads and keeps in Redis besides the job store: the change streams
 * (XREAD BLOCK), its cursors (`publisher:stream-cursors`) and the state-index sequence numbers
 * (`pubseq:<scope>`). Keys as in `store.ts`; {@linkcode ChangeFeed} is the seam for tests.
 *
 * @module
 */
import type { Redis } from "../../io/redis.ts";
import { type ChangeEntry, KEYS } from "./store.ts";

/** One change stream entry as read. */
export interface StreamEntry {
  /** Stream entry id, `<ms>-<n>`. */
  id: string;
  fields: ChangeEntry;
}

/** The entries read from one stream, in stream order. */
export interface StreamBatch {
  /** Stream key, e.g. `joborder:changes:machine-42`. */
  stream: string;
  entries: StreamEntry[];
}

/** The publisher's Redis, beyond the job store. */
export interface ChangeFeed {
  /** Stream key -> the id of the last entry handled. */
  loadCursors(): Promise<Map<string, string>>;
  /** Records that every entry of `stream` up to `id` is handled. */
  saveCursor(stream: string, id: string): Promise<void>;
  /** XREAD BLOCK: entries after each stream's id; [] when none came within `blockMs`. */
  read(after: ReadonlyMap<string, string>, options: ReadOptions): Promise<StreamBatch[]>;
  /** The last id ever added to the stream (trimmed or not); undefined if there is no stream. */
  lastId(stream: string): Promise<string | undefined>;
  /** Whether the entry is still in the stream (the head is trimmed as the stream grows). */
  holds(stream: string, id: string): Promise<boolean>;
  /** INCR `pubseq:<scope>`: the seq of the next state-index publish. */
  nextSeq(scope: string): Promise<number>;
}

/** Options of {@linkcode ChangeFeed.read}. */
export interface ReadOptions {
  /** Entries per stream at most. */
  count: number;
  /** How long to wait for a first entry. */
  blockMs: number;
}

/** Which scope a change stream key belongs to; undefined for the global stream. */
export function scopeOfStream(stream: string): string | undefined {
  const prefix = KEYS.changes("");
  if (stream === KEYS.globalChanges || !stream.startsWith(prefix)) return undefined;
  return stream.slice(prefix.length);
}

/** Orders stream ids (`<ms>-<n>`) numerically; `0` sorts first. */
export function compareStreamIds(a: string, b: string): number {
  const [am, an = "0"] = a.split("-");
  const [bm, bn = "0"] = b.split("-");
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const n = BigInt(an) - BigInt(bn);
  return n === 0n ? 0 : n < 0n ? -1 : 1;
}

/** {@linkcode ChangeFeed} on an ioredis connection. */
export class RedisChangeFeed implements ChangeFeed {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async loadCursors(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.#redis.hgetall(KEYS.publisherCursors)));
  }

  async saveCursor(stream: string, id: string): Promise<void> {
    await this.#redis.hset(KEYS.publisherCursors, stream, id);
  }

  async read(after: ReadonlyMap<string, string>, options: ReadOptions): Promise<StreamBatch[]> {
    if (after.size === 0) return [];
    const reply = await this.#redis.xread(
      "COUNT",
      options.count,
      "BLOCK",
      options.blockMs,
      "STREAMS",
      ...after.keys(),
      ...after.values(),
    );
    return (reply ?? []).map(([stream, items]) => ({
      stream,
      entries: items.map(([id, fields]) => ({ id, fields: toEntry(fields) })),
    }));
  }

  async lastId(stream: string): Promise<string | undefined> {
    if (await this.#redis.exists(stream) === 0) return undefined;
    const flat = await this.#redis.call("XINFO", "STREAM", stream) as unknown[];
    const i = flat.indexOf("last-generated-id");
    return i >= 0 ? String(flat[i + 1]) : undefined;
  }

  async holds(stream: string, id: string): Promise<boolean> {
    return (await this.#redis.xrange(stream, id, id)).length > 0;
  }

  async nextSeq(scope: string): Promise<number> {
    return await this.#redis.incr(KEYS.publishSeq(scope));
  }
}

/** `[k1, v1, k2, v2, ...]` -> the entry's fields. */
function toEntry(flat: string[]): ChangeEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  return fields as unknown as ChangeEntry;
}
