/**
 * `main.ts buffer`: operator commands over the edge's store-and-forward buffer — stats, list,
 * export, requeue, verify. Safe while the edge runs (SQLite WAL; the edge polls for new rows).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type CanonicalLotEvent, checkCanonicalEvent } from "../core/canonical_event.ts";
import { errorMessage, PlantgateError } from "../core/errors.ts";
import { lotEventsSubject } from "../io/jetstream.ts";
import type { Buffer, BufferedEvent, Intake } from "./buffer.ts";
import {
  type CliIo,
  COMMON_HELP,
  defaultIo,
  formatBytes,
  formatDuration,
  formatTable,
  intFlag,
  noPositionals,
  openTarget,
  parseCli,
  runSubcommand,
  type Subcommand,
  UsageError,
} from "./cli_io.ts";

const USAGE = `Usage: main.ts buffer <subcommand> [options]

Inspects and repairs the edge's on-disk buffer (safe while the edge runs).

Subcommands:
  stats                    backlog, oldest unsent event, space used, dead letters
  list                     buffered events in forwarding order
  export [--out FILE]      every buffered event as JSON lines
  requeue <file.jsonl>     put exported events back (all lines are validated first)
  verify                   database integrity plus every event row against the schema

${COMMON_HELP}

Run "main.ts buffer <subcommand> --help" for details.
Exit codes: 0 ok, 1 runtime failure or problems found, 2 bad usage or config.`;

/** Rows read per peek(): bounds memory on big buffers. */
const PAGE = 1000;
/** Events per fsync'd transaction when requeueing. */
const REQUEUE_BATCH = 500;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The lot id inside a lot key `<plant>/<system>/<lotId>` (plant and system hold no "/"). */
function lotIdOf(lotKey: string): string {
  return lotKey.split("/").slice(2).join("/");
}

/** The body as an event, or undefined when it is not JSON. */
function parseBody(e: BufferedEvent): Partial<CanonicalLotEvent> | undefined {
  try {
    return JSON.parse(utf8.decode(e.body));
  } catch {
    return undefined;
  }
}

/** Every buffered event after `afterSeq`, page by page. */
function* events(buffer: Buffer, afterSeq = 0): Generator<BufferedEvent> {
  for (let cursor = afterSeq;;) {
    const page = buffer.peek(cursor, PAGE);
    if (page.length === 0) return;
    yield* page;
    cursor = page.at(-1)!.seq;
  }
}

const stats: Subcommand = {
  usage: `Usage: main.ts buffer stats [options]

Backlog (events waiting for a JetStream ack) and its bytes, age of the oldest unsent event,
bytes used against buffer.maxBytes, dead letters (total / not yet forwarded to the centre).
With --buffer and no -c, maxBytes is the 1 GiB default, not the configured one.

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {});
    noPositionals(positionals);
    using target = await openTarget(values);
    const s = target.buffer.stats();
    const ageMs = s.oldestReceivedAt === null ? null : Date.now() - s.oldestReceivedAt;
    const percent = Number(((100 * s.usedBytes) / s.maxBytes).toFixed(1));
    if (values.json) {
      io.out(JSON.stringify({
        path: target.buffer.path,
        ...s,
        oldestReceivedAt: s.oldestReceivedAt === null
          ? null
          : new Date(s.oldestReceivedAt).toISOString(),
        oldestUnsentAgeSeconds: ageMs === null ? null : Math.floor(ageMs / 1000),
        usedPercent: percent,
      }));
      return 0;
    }
    const oldest = ageMs === null
      ? "-"
      : `${formatDuration(ageMs)} ago (${new Date(s.oldestReceivedAt!).toISOString()})`;
    io.out(formatTable(["buffer", target.buffer.path], [
      ["backlog", `${s.backlog} events, ${formatBytes(s.backlogBytes)}`],
      ["oldest unsent", oldest],
      [
        "used",
        `${formatBytes(s.usedBytes)} of ${formatBytes(s.maxBytes)} (${percent.toFixed(1)}%)`,
      ],
      ["dead letters", `${s.deadLetters} (${s.deadLettersUnforwarded} not yet forwarded)`],
    ]));
    return 0;
  },
};

const list: Subcommand = {
  usage: `Usage: main.ts buffer list [--limit N] [--after SEQ] [--lot LOTID] [options]

Buffered events in forwarding order: seq, eventId, eventType, lotId, subject, age.
  --limit N       at most N events (default 50)
  --after SEQ     start after this seq (paging: pass the last seq shown)
  --lot LOTID     only events of this source lot id

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {
      limit: { type: "string" },
      after: { type: "string" },
      lot: { type: "string" },
    });
    noPositionals(positionals);
    const limit = intFlag(values.limit, "--limit", { fallback: 50, min: 1 });
    const after = intFlag(values.after, "--after", { fallback: 0, min: 0 });
    using target = await openTarget(values);
    const now = Date.now();
    const rows: BufferedEvent[] = [];
    let more = false;
    for (const e of events(target.buffer, after)) {
      if (values.lot !== undefined && lotIdOf(e.lotKey) !== values.lot) continue;
      if (rows.length === limit) {
        more = true;
        break;
      }
      rows.push(e);
    }
    const described = rows.map((e) => ({
      seq: e.seq,
      eventId: e.eventId,
      eventType: parseBody(e)?.eventType ?? "(unreadable)",
      lotId: lotIdOf(e.lotKey),
      subject: e.subject,
      receivedAt: new Date(e.receivedAt).toISOString(),
      ageSeconds: Math.floor((now - e.receivedAt) / 1000),
    }));
    if (values.json) {
      if (described.length > 0) io.out(described.map((d) => JSON.stringify(d)).join("\n"));
      return 0;
    }
    io.out(formatTable(
      ["SEQ", "EVENT ID", "TYPE", "LOT", "SUBJECT", "AGE"],
      described.map((d) => [
        String(d.seq),
        d.eventId,
        d.eventType,
        d.lotId,
        d.subject,
        formatDuration(d.ageSeconds * 1000),
      ]),
    ));
    if (more) io.out(`(more: --after ${rows.at(-1)!.seq})`);
    return 0;
  },
};

/** Where exported lines go: stdout through the io, or a new file. */
function exportSink(
  out: string | undefined,
  io: CliIo,
): { write(lines: string[]): void } & Disposable {
  if (out === undefined) {
    return { write: (lines) => lines.length && io.out(lines.join("\n")), [Symbol.dispose]() {} };
  }
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(out, { write: true, createNew: true });
  } catch (error) {
    throw new PlantgateError(
      "buffer_write_failed",
      error instanceof Deno.errors.AlreadyExists
        ? `Cannot export to "${out}": the file exists (an earlier export?); choose another name`
        : `Cannot export to "${out}": ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const encoder = new TextEncoder();
  return {
    write(lines) {
      if (lines.length === 0) return;
      const bytes = encoder.encode(lines.join("\n") + "\n");
      for (let done = 0; done < bytes.byteLength;) done += file.writeSync(bytes.subarray(done));
    },
    [Symbol.dispose]: () => file.close(),
  };
}

const exportCommand: Subcommand = {
  usage: `Usage: main.ts buffer export [--out FILE] [options]

Writes every buffered event as JSON lines (the canonical event JSON, one per line, in buffer
order) to stdout or to FILE (which must not exist yet). Progress goes to stderr every 10,000
events. Rows whose body is not JSON are skipped and reported (exit 1): run "buffer verify".
The export is not a snapshot: while the edge runs, events are forwarded and added meanwhile.
  --out FILE      write to FILE instead of stdout

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, { out: { type: "string" } });
    noPositionals(positionals);
    if (values.json) throw new UsageError("--json does not apply: export always writes JSON lines");
    using target = await openTarget(values);
    const total = target.buffer.stats().backlog;
    using sink = exportSink(values.out, io);
    let exported = 0;
    let skipped = 0;
    let page: string[] = [];
    for (const e of events(target.buffer)) {
      const text = bodyLine(e);
      if (text === undefined) {
        skipped++;
        io.err(`seq ${e.seq}: body is not JSON; not exported`);
        continue;
      }
      page.push(text);
      if (++exported % 10_000 === 0) io.err(`exported ${exported} of about ${total} events`);
      if (page.length === PAGE) {
        sink.write(page);
        page = [];
      }
    }
    sink.write(page);
    const where = values.out === undefined ? "" : ` to ${values.out}`;
    io.err(
      `Exported ${exported} events${where}${skipped ? `; skipped ${skipped} unreadable` : ""}`,
    );
    return skipped > 0 ? 1 : 0;
  },
};

/** The body as one JSON line, or undefined when it is not JSON. */
function bodyLine(e: BufferedEvent): string | undefined {
  let text: string;
  try {
    text = utf8.decode(e.body);
    const value = JSON.parse(text);
    // Bodies are written by JSON.stringify (one line); re-serialize anything else.
    return /[\r\n]/.test(text) ? JSON.stringify(value) : text;
  } catch {
    return undefined;
  }
}

/** The lines of a file with their 1-based numbers, read in chunks (bounded memory). */
async function* readLines(path: string): AsyncGenerator<{ n: number; text: string }> {
  using file = await Deno.open(path);
  const decoder = new TextDecoder();
  let rest = "";
  let n = 0;
  for await (const chunk of file.readable) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) yield { n: ++n, text: line.replace(/\r$/, "") };
  }
  rest += decoder.decode();
  if (rest !== "") yield { n: ++n, text: rest.replace(/\r$/, "") };
}

/** One line checked as a canonical event: the event, or what is wrong with it. */
function checkLine(text: string): { event: CanonicalLotEvent } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${errorMessage(error)}` };
  }
  const check = checkCanonicalEvent(value);
  return check.ok
    ? { event: value as CanonicalLotEvent }
    : { problem: `${check.message} (field "${check.field}")` };
}

const requeue: Subcommand = {
  usage: `Usage: main.ts buffer requeue <file.jsonl> [options]

Puts canonical events (as written by "buffer export") back into the buffer, to be forwarded
again, on subject lots.events.<plantId>.<sourceSystem> of each event. Every line is checked
against the canonical schema first; if any line is bad, each is reported with its line number
and field, and nothing is written. Events whose eventId the buffer has already seen (within
buffer.dedupeWindowHours) are counted as duplicates and not stored again, so running requeue
twice is harmless.
  --create      create the buffer file if it does not exist (requeue into a fresh buffer)

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, { create: { type: "boolean" } });
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "Missing the file to requeue (<file.jsonl>)"
          : `Unexpected argument "${positionals[1]}": requeue takes one file`,
      );
    }
    const file = positionals[0];
    try {
      await Deno.stat(file);
    } catch (error) {
      throw new UsageError(`Cannot read "${file}": ${errorMessage(error)}`);
    }
    let count = 0;
    let bad = 0;
    const plants = new Set<string>();
    for await (const { n, text } of readLines(file)) {
      if (text.trim() === "") continue;
      const checked = checkLine(text);
      if ("problem" in checked) {
        if (++bad <= 50) io.err(`${file}:${n}: ${checked.problem}`);
        continue;
      }
      plants.add(checked.event.plantId);
      count++;
    }
    if (bad > 0) {
      io.err(
        `Nothing requeued: ${bad} invalid line(s) in ${file}${bad > 50 ? " (first 50 shown)" : ""}`,
      );
      return 1;
    }
    using target = await openTarget(values, { create: values.create });
    if (target.created) io.err(`Created a new buffer at ${target.buffer.path}`);
    const plantId = target.config?.plantId;
    if (plantId !== undefined && [...plants].some((p) => p !== plantId)) {
      io.err(
        `Warning: ${file} holds events of plant(s) ${[...plants].join(", ")}; ` +
          `this edge is plant ${plantId}`,
      );
    }
    const totals = await commitLines(target.buffer, file);
    if (values.json) {
      io.out(JSON.stringify({ file, events: count, ...totals }));
    } else {
      io.out(
        `Requeued ${file}: ${count} events, ${totals.stored} stored, ${totals.duplicates} ` +
          `duplicates (already seen by this buffer; not stored again)`,
      );
    }
    return 0;
  },
};

/** Commits the (already validated) events of `file` in batches; returns the totals. */
async function commitLines(
  buffer: Buffer,
  file: string,
): Promise<{ stored: number; duplicates: number }> {
  const totals = { stored: 0, duplicates: 0 };
  let batch: Intake[] = [];
  const flush = () => {
    try {
      const result = buffer.commit(batch);
      totals.stored += result.stored;
      totals.duplicates += result.duplicates;
      batch = [];
    } catch (error) {
      throw new PlantgateError(
        error instanceof PlantgateError ? error.code : "buffer_write_failed",
        `Cannot requeue the rest of ${file}: ${errorMessage(error)}. ${totals.stored} events ` +
          `were stored before this; running requeue again is safe (they count as duplicates)`,
        { cause: error },
      );
    }
  };
  for await (const { text } of readLines(file)) {
    if (text.trim() === "") continue;
    const event = JSON.parse(text) as CanonicalLotEvent;
    batch.push({
      kind: "events",
      subject: lotEventsSubject(event.plantId, event.sourceSystem),
      events: [event],
    });
    if (batch.length === REQUEUE_BATCH) flush();
  }
  if (batch.length > 0) flush();
  return totals;
}

/** What is wrong with one event row, or undefined when it is sound. */
function rowProblem(e: BufferedEvent): string | undefined {
  let text: string;
  try {
    text = utf8.decode(e.body);
  } catch {
    return "body is not valid UTF-8";
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return `body is not JSON: ${errorMessage(error)}`;
  }
  const check = checkCanonicalEvent(body);
  if (!check.ok) return `body fails the canonical schema: ${check.message}`;
  const event = body as CanonicalLotEvent;
  if (event.eventId !== e.eventId) {
    return `event_id column "${e.eventId}" differs from the body's eventId "${event.eventId}"`;
  }
  const subject = lotEventsSubject(event.plantId, event.sourceSystem);
  if (e.subject !== subject) return `subject "${e.subject}" should be "${subject}"`;
  const lotKey = `${event.plantId}/${event.sourceSystem}/${event.lotId}`;
  if (e.lotKey !== lotKey) return `lot key "${e.lotKey}" should be "${lotKey}"`;
  return undefined;
}

/** Sound bookkeeping of the dead letters: their sha256 matches the bytes kept. */
function* deadLetterProblems(buffer: Buffer): Generator<{ deadLetter: number; problem: string }> {
  for (let after = 0;;) {
    const page = buffer.deadLetters({ afterId: after, limit: 100 });
    if (page.length === 0) return;
    for (const dl of page) {
      const sha = createHash("sha256").update(dl.raw).digest("hex");
      if (sha !== dl.rawSha256) {
        yield { deadLetter: dl.id, problem: "raw bytes do not match their recorded sha256" };
      }
    }
    after = page.at(-1)!.id;
  }
}

const verify: Subcommand = {
  usage: `Usage: main.ts buffer verify [options]

Checks the buffer: SQLite integrity_check and size bookkeeping, then every event row (body is
UTF-8 JSON that passes the canonical schema; its eventId, subject and lot key match the row's
columns) and every dead letter (its bytes match their sha256). Lists each problem with its seq
(or dead letter id) and exits 1 if there is any.

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {});
    noPositionals(positionals);
    using target = await openTarget(values);
    const problems: { seq?: number; deadLetter?: number; problem: string }[] = [];
    try {
      problems.push(...target.buffer.integrityProblems().map((problem) => ({ problem })));
    } catch (error) {
      problems.push({ problem: `sqlite: ${errorMessage(error)}` });
    }
    let checked = 0;
    for (const e of events(target.buffer)) {
      checked++;
      const problem = rowProblem(e);
      if (problem) problems.push({ seq: e.seq, problem });
    }
    problems.push(...deadLetterProblems(target.buffer));
    for (const p of problems) {
      const where = p.seq !== undefined
        ? `seq ${p.seq}`
        : p.deadLetter !== undefined
        ? `dead letter ${p.deadLetter}`
        : "database";
      io.out(values.json ? JSON.stringify(p) : `${where}: ${p.problem}`);
    }
    const path = target.buffer.path;
    io.err(
      problems.length === 0
        ? `Buffer ${path} is sound: ${checked} events checked`
        : `${problems.length} problem(s) in ${path} (${checked} events checked)`,
    );
    return problems.length === 0 ? 0 : 1;
  },
};

/**
 * `main.ts buffer <stats|list|export|requeue|verify>`: returns the exit code (0 ok, 1 runtime
 * failure or problems found, 2 bad usage or config).
 */
export function runBufferCommand(args: string[], io: CliIo = defaultIo): Promise<number> {
  return runSubcommand(
    USAGE,
    {
      stats,
      list,
      export: exportCommand,
      requeue,
      verify,
    },
    args,
    io,
  );
}
