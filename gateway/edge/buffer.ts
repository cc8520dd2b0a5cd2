import { createHash } from "node:crypto";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { type ErrorCode, errorMessage, PlantgateError, type Stage } from "../core/errors.ts";

/** A canonical event waiting in the buffer to be forwarded. */
export interface BufferedEvent {
  /** Buffer order; forwarding follows it per lot. */
  seq: number;
  eventId: string;
  /** Per-lot ordering key: at most one event per key is in flight at a time. */
  lotKey: string;
  /** JetStream subject, `lots.events.<plant>.<system>` (or `jobs.events.<plant>.<scope>`). */
  subject: string;
  /** The canonical event as JSON bytes, exactly as published. */
  body: Uint8Array;
  /** Edge receipt time, ms since epoch. */
  receivedAt: number;
}

/** A message that could not become canonical events, kept with its original bytes. */
export interface DeadLetter {
  id: number;
  /** UUID; the `Nats-Msg-Id` when forwarded to `dlq.edge.<plant>`. */
  deadLetterId: string;
  receivedAt: number;
  topic: string;
  stage: Stage;
  code: ErrorCode;
  message: string;
  field: string | null;
  /** Original bytes (the first `maxPayloadBytes` for oversized payloads; see `rawSize`). */
  raw: Uint8Array;
  rawSize: number;
  rawSha256: string;
  forwardedAt: number | null;
  replayedAt: number | null;
}

/**
 * A non-lot event for the same buffer (DCS job events): its own id (dedupe, `Nats-Msg-Id`) and
 * ordering key (`job:<scope>:<jobOrderId>`); `body` is stored as JSON.
 */
export interface BufferRecord {
  eventId: string;
  lotKey: string;
  body: unknown;
  /** Edge receipt time, ms since epoch. */
  receivedAt: number;
}

/** One decoded message for {@linkcode Buffer.commit}. */
export type Intake =
  | { kind: "events"; subject: string; events: CanonicalLotEvent[] }
  | { kind: "records"; subject: string; records: BufferRecord[] }
  | {
    kind: "dead";
    topic: string;
    stage: Stage;
    code: ErrorCode;
    message: string;
    field?: string;
    raw: Uint8Array;
    rawSize?: number;
    receivedAt: number;
  };

/** What one commit did. */
export interface CommitResult {
  stored: number;
  /** Events whose eventId was already seen (ERP re-sends, broker re-deliveries). */
  duplicates: number;
  deadLettered: number;
  /** Dead letters with the same bytes already kept. */
  duplicateDeadLetters: number;
  /** Per dead-letter intake, in order: kept (true) or absorbed as a duplicate (false). */
  deadLettersKept: boolean[];
  /** Bytes of the events stored. */
  eventBytes: number;
  /** Bytes now counted against maxBytes (events + dead letters). */
  addedBytes: number;
}

/** Backlog figures for `buffer stats`, `/readyz` and metrics. */
export interface BufferStats {
  backlog: number;
  backlogBytes: number;
  /** Receipt time of the oldest unsent event (ms since epoch), or null. */
  oldestReceivedAt: number | null;
  deadLetters: number;
  deadLettersUnforwarded: number;
  /** Bytes counted against `maxBytes` (events + dead letters). */
  usedBytes: number;
  maxBytes: number;
}

/** Options of {@linkcode Buffer.open}. */
export interface BufferOptions {
  /** Bound on events + dead letters, in bytes. Default 1 GiB. */
  maxBytes?: number;
  /**
   * Hard quota on the database file (SQLite max_page_count); hitting it behaves like a full
   * disk. Default: 2 x maxBytes + 64 MiB (room for indexes, the dedupe table and free pages).
   */
  hardLimitBytes?: number;
  /** How long seen eventIds are remembered for dedupe. Default 168 h. */
  dedupeWindowMs?: number;
  /** Clock. Default Date.now. */
  now?: () => number;
  /**
   * fsync every commit (`synchronous=FULL`). Default true. False (`synchronous=NORMAL`) only
   * under a {@linkcode DurableCommitter}, which fsyncs the WAL itself, off the event loop.
   */
  syncCommits?: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  lot_key TEXT NOT NULL,
  subject TEXT NOT NULL,
  body BLOB NOT NULL,
  bytes INTEGER NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
  key TEXT PRIMARY KEY,
  at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_at ON seen(at);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dead_letter_id TEXT NOT NULL UNIQUE,
  received_at INTEGER NOT NULL,
  topic TEXT NOT NULL,
  stage TEXT NOT NULL,
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  field TEXT,
  raw BLOB NOT NULL,
  raw_size INTEGER NOT NULL,
  raw_sha256 TEXT NOT NULL,
  forwarded_at INTEGER,
  replayed_at INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1');
`;

const encoder = new TextEncoder();

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function isFull(error: unknown): boolean {
  const text = errorMessage(error);
  return /SQLITE_FULL|database or disk is full/i.test(text) ||
    (error as { errcode?: number })?.errcode === 13;
}

/**
 * The edge's durable store-and-forward buffer: a SQLite database in WAL mode with
 * `synchronous=FULL`, so a commit is on disk (fsync'd) before it returns (the edge opens it
 * with `syncCommits: false` and fsyncs through a {@linkcode DurableCommitter}). Holds the events
 * waiting for a JetStream ack, the dead letters, and the eventIds seen recently (dedupe).
 *
 * One process writes (the edge); CLI commands may read and write alongside it (WAL, busy
 * timeout).
 */
export class Buffer {
  readonly path: string;
  readonly maxBytes: number;
  #db: DatabaseSync;
  #now: () => number;
  #dedupeWindowMs: number;
  #usedBytes = 0;
  /** Events waiting and their bytes, kept current by commit/remove (recount() re-reads them). */
  #backlog = 0;
  #backlogBytes = 0;
  /** Deletes need no fsync of their own: a lost delete only re-publishes, and JetStream dedupes. */
  #deleteDb: DatabaseSync;
  #stmts: Record<string, StatementSync>;
  #closed = false;

  private constructor(path: string, db: DatabaseSync, options: BufferOptions) {
    this.path = path;
    this.#db = db;
    this.#deleteDb = new DatabaseSync(path);
    this.#deleteDb.exec("PRAGMA busy_timeout = 5000");
    this.#deleteDb.exec("PRAGMA synchronous = NORMAL");
    this.maxBytes = options.maxBytes ?? 1024 ** 3;
    this.#now = options.now ?? Date.now;
    this.#dedupeWindowMs = options.dedupeWindowMs ?? 168 * 3600_000;
    this.#stmts = {
      seen: db.prepare("INSERT OR IGNORE INTO seen(key, at) VALUES (?, ?)"),
      insertEvent: db.prepare(
        "INSERT INTO events(event_id, lot_key, subject, body, bytes, received_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      insertDead: db.prepare(
        `INSERT INTO dead_letters(dead_letter_id, received_at, topic, stage, code, message, field, raw, raw_size, raw_sha256)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      peek: db.prepare(
        "SELECT seq, event_id, lot_key, subject, body, received_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
      ),
      deleteEvent: this.#deleteDb.prepare("DELETE FROM events WHERE seq = ? RETURNING bytes"),
      totals: db.prepare(
        `SELECT (SELECT count(*) FROM events) AS n, (SELECT coalesce(sum(bytes), 0) FROM events) AS b,
           (SELECT coalesce(sum(length(raw) + length(message)), 0) FROM dead_letters) AS d`,
      ),
      oldest: db.prepare("SELECT received_at FROM events ORDER BY seq LIMIT 1"),
    };
    this.recount();
  }

  /** Opens (creating if needed) the buffer at `path`. */
  static open(path: string, options: BufferOptions = {}): Buffer {
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${options.syncCommits === false ? "NORMAL" : "FULL"}`);
      const maxBytes = options.maxBytes ?? 1024 ** 3;
      const hard = options.hardLimitBytes ?? 2 * maxBytes + 64 * 1024 ** 2;
      const pageSize = Number(
        (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size,
      );
      db.exec(`PRAGMA max_page_count = ${Math.max(16, Math.floor(hard / pageSize))}`);
      db.exec(SCHEMA);
    } catch (error) {
      db.close();
      throw new PlantgateError(
        isFull(error) ? "disk_full" : "buffer_write_failed",
        `Cannot open buffer "${path}": ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return new Buffer(path, db, options);
  }

  /** Re-reads the backlog and the bytes counted against maxBytes (other writers included). */
  recount(): number {
    const t = this.#stmts.totals.get() as { n: number; b: number; d: number };
    this.#backlog = Number(t.n);
    this.#backlogBytes = Number(t.b);
    this.#usedBytes = Number(t.b) + Number(t.d);
    return this.#usedBytes;
  }

  /** Bytes counted against maxBytes as this process knows them. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /**
   * Commits a batch of decoded messages in one fsync'd transaction: new events (dedupe by
   * eventId), dead letters (dedupe by topic + bytes). Throws `buffer_full` without writing
   * anything when the batch does not fit in maxBytes (an empty buffer takes any batch),
   * `disk_full` when the disk or quota is full, `buffer_write_failed` otherwise: the caller
   * must then not acknowledge the batch.
   */
  commit(intakes: Intake[]): CommitResult {
    const now = this.#now();
    const result: CommitResult = {
      stored: 0,
      duplicates: 0,
      deadLettered: 0,
      duplicateDeadLetters: 0,
      deadLettersKept: [],
      eventBytes: 0,
      addedBytes: 0,
    };
    const rows: { record: BufferRecord; subject: string; body: Uint8Array }[] = [];
    const dead: { intake: Extract<Intake, { kind: "dead" }>; hash: string }[] = [];
    let incoming = 0;
    for (const intake of intakes) {
      if (intake.kind === "events") {
        for (const event of intake.events) {
          const body = encoder.encode(JSON.stringify(event));
          incoming += body.byteLength;
          const record = {
            eventId: event.eventId,
            lotKey: `${event.plantId}/${event.sourceSystem}/${event.lotId}`,
            body: event,
            receivedAt: Date.parse(event.observedAt),
          };
          rows.push({ record, subject: intake.subject, body });
        }
      } else if (intake.kind === "records") {
        for (const record of intake.records) {
          const body = encoder.encode(JSON.stringify(record.body));
          incoming += body.byteLength;
          rows.push({ record, subject: intake.subject, body });
        }
      } else {
        incoming += intake.raw.byteLength + intake.message.length;
        dead.push({ intake, hash: sha256(intake.raw) });
      }
    }
    // An empty buffer takes any batch, so a maxBytes below one batch cannot stall ingest.
    if (this.#usedBytes > 0 && this.#usedBytes + incoming > this.maxBytes) {
      throw new PlantgateError(
        "buffer_full",
        `Cannot buffer ${intakes.length} message(s): buffer holds ${this.#usedBytes} of ${this.maxBytes} bytes (buffer.maxBytes); not acknowledging, the broker keeps them`,
      );
    }
    let added = 0;
    let eventBytes = 0;
    this.#transaction(() => {
      for (const { record, subject, body } of rows) {
        if (this.#stmts.seen.run(`e:${record.eventId}`, now).changes === 0) {
          result.duplicates++;
          continue;
        }
        this.#stmts.insertEvent.run(
          record.eventId,
          record.lotKey,
          subject,
          body,
          body.byteLength,
          record.receivedAt,
        );
        added += body.byteLength;
        eventBytes += body.byteLength;
        result.stored++;
      }
      for (const { intake, hash } of dead) {
        if (this.#stmts.seen.run(`d:${intake.topic}:${hash}`, now).changes === 0) {
          result.duplicateDeadLetters++;
          result.deadLettersKept.push(false);
          continue;
        }
        this.#stmts.insertDead.run(
          crypto.randomUUID(),
          intake.receivedAt,
          intake.topic,
          intake.stage,
          intake.code,
          intake.message,
          intake.field ?? null,
          intake.raw,
          intake.rawSize ?? intake.raw.byteLength,
          hash,
        );
        added += intake.raw.byteLength + intake.message.length;
        result.deadLettered++;
        result.deadLettersKept.push(true);
      }
    });
    result.eventBytes = eventBytes;
    result.addedBytes = added;
    this.#usedBytes += result.addedBytes;
    this.#backlog += result.stored;
    this.#backlogBytes += result.eventBytes;
    return result;
  }

  /** Up to `limit` events after `afterSeq`, in buffer order. */
  peek(afterSeq: number, limit: number): BufferedEvent[] {
    return (this.#stmts.peek.all(afterSeq, limit) as Record<string, unknown>[]).map((r) => ({
      seq: Number(r.seq),
      eventId: String(r.event_id),
      lotKey: String(r.lot_key),
      subject: String(r.subject),
      body: r.body as Uint8Array,
      receivedAt: Number(r.received_at),
    }));
  }

  /** Deletes forwarded events (after their JetStream ack), in one transaction without fsync. */
  remove(seqs: number[]): void {
    if (seqs.length === 0) return;
    let freed = 0, removed = 0;
    this.#transaction(() => {
      for (const seq of seqs) {
        const row = this.#stmts.deleteEvent.get(seq) as { bytes: number } | undefined;
        if (row) {
          freed += Number(row.bytes);
          removed++;
        }
      }
    }, this.#deleteDb);
    this.#usedBytes -= freed;
    this.#backlog -= removed;
    this.#backlogBytes -= freed;
  }

  /** Forgets seen eventIds older than the dedupe window. Returns how many were forgotten. */
  pruneSeen(): number {
    const cutoff = this.#now() - this.#dedupeWindowMs;
    let changes = 0;
    this.#transaction(() => {
      changes = Number(this.#db.prepare("DELETE FROM seen WHERE at < ?").run(cutoff).changes);
    });
    return changes;
  }

  /** Backlog figures; cheap enough for every /readyz (no table scan of the events). */
  stats(): BufferStats {
    const oldest = this.#stmts.oldest.get() as { received_at: number } | undefined;
    const dead = this.#db.prepare(
      "SELECT count(*) AS n, coalesce(sum(forwarded_at IS NULL), 0) AS u FROM dead_letters",
    ).get() as { n: number; u: number };
    return {
      backlog: this.#backlog,
      backlogBytes: this.#backlogBytes,
      oldestReceivedAt: oldest ? Number(oldest.received_at) : null,
      deadLetters: Number(dead.n),
      deadLettersUnforwarded: Number(dead.u),
      usedBytes: this.#usedBytes,
      maxBytes: this.maxBytes,
    };
  }

  /** Events waiting per subject. Scans the events table: for operator commands, not /readyz. */
  backlogBySubject(): Map<string, number> {
    const rows = this.#db.prepare("SELECT subject, count(*) AS n FROM events GROUP BY subject")
      .all() as { subject: string; n: number }[];
    return new Map(rows.map((r) => [String(r.subject), Number(r.n)]));
  }

  /** Dead letters, oldest first, optionally only those not yet forwarded. */
  deadLetters(
    options: { unforwardedOnly?: boolean; limit?: number; afterId?: number } = {},
  ): DeadLetter[] {
    const where = options.unforwardedOnly ? "AND forwarded_at IS NULL" : "";
    const rows = this.#db.prepare(
      `SELECT * FROM dead_letters WHERE id > ? ${where} ORDER BY id LIMIT ?`,
    ).all(options.afterId ?? 0, options.limit ?? 1000) as Record<string, unknown>[];
    return rows.map(toDeadLetter);
  }

  /** One dead letter by numeric id or dead-letter UUID. */
  deadLetter(id: number | string): DeadLetter | undefined {
    const row = this.#db.prepare(
      typeof id === "number"
        ? "SELECT * FROM dead_letters WHERE id = ?"
        : "SELECT * FROM dead_letters WHERE dead_letter_id = ?",
    ).get(id) as Record<string, unknown> | undefined;
    return row ? toDeadLetter(row) : undefined;
  }

  /** Marks dead letters as forwarded to the centre (they stay kept until purged). */
  markDeadLettersForwarded(ids: number[]): void {
    const at = this.#now();
    const stmt = this.#db.prepare("UPDATE dead_letters SET forwarded_at = ? WHERE id = ?");
    this.#transaction(() => ids.forEach((id) => stmt.run(at, id)));
  }

  /** Marks a dead letter as replayed successfully. */
  markDeadLetterReplayed(id: number): void {
    this.#transaction(() =>
      this.#db.prepare("UPDATE dead_letters SET replayed_at = ? WHERE id = ?").run(this.#now(), id)
    );
  }

  /** Deletes dead letters by id; returns how many went. */
  purgeDeadLetters(ids: number[]): number {
    let n = 0;
    const stmt = this.#db.prepare("DELETE FROM dead_letters WHERE id = ?");
    this.#transaction(() => ids.forEach((id) => n += Number(stmt.run(id).changes)));
    this.recount();
    return n;
  }

  /** SQLite integrity check plus bookkeeping checks; returns the problems found (empty = sound). */
  integrityProblems(): string[] {
    const problems: string[] = [];
    const rows = this.#db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    for (const r of rows) {
      if (r.integrity_check !== "ok") problems.push(`sqlite: ${r.integrity_check}`);
    }
    const bad = this.#db.prepare("SELECT count(*) AS n FROM events WHERE length(body) != bytes")
      .get() as { n: number };
    if (Number(bad.n) > 0) {
      problems.push(`${bad.n} event row(s) whose size does not match their body`);
    }
    return problems;
  }

  /** Runs `fn` in one transaction (BEGIN IMMEDIATE ... COMMIT), mapping SQLite errors to codes. */
  #transaction(fn: () => void, db: DatabaseSync = this.#db): void {
    if (this.#closed) {
      throw new PlantgateError("buffer_write_failed", "Cannot write: buffer is closed");
    }
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw new PlantgateError(
        "buffer_write_failed",
        `Cannot write buffer: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
    try {
      fn();
      db.exec("COMMIT");
    } catch (error) {
      try {
        db.exec("ROLLBACK");
      } catch { /* the failed statement already rolled back */ }
      if (error instanceof PlantgateError) throw error;
      const full = isFull(error);
      throw new PlantgateError(
        full ? "disk_full" : "buffer_write_failed",
        full
          ? `Cannot write buffer "${this.path}": disk or quota full; not acknowledging, the broker keeps the messages`
          : `Cannot write buffer "${this.path}": ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  /** Closes the database (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deleteDb.close();
    this.#db.close();
  }
}

function toDeadLetter(r: Record<string, unknown>): DeadLetter {
  return {
    id: Number(r.id),
    deadLetterId: String(r.dead_letter_id),
    receivedAt: Number(r.received_at),
    topic: String(r.topic),
    stage: r.stage as Stage,
    code: r.code as ErrorCode,
    message: String(r.message),
    field: r.field === null ? null : String(r.field),
    raw: r.raw as Uint8Array,
    rawSize: Number(r.raw_size),
    rawSha256: String(r.raw_sha256),
    forwardedAt: r.forwarded_at === null ? null : Number(r.forwarded_at),
    replayedAt: r.replayed_at === null ? null : Number(r.replayed_at),
  };
}
