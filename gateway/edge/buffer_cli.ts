/**
 * `main.ts buffer`: operator commands over the edge's store-and-forward buffer — stats, list,
 * export, requeue, verify. Safe while the edge runs (SQLite WAL; the edge polls for new rows).
 * The buffer holds two kinds of rows, told apart by subject: canonical lot events
 * (`lots.events.`, kind `lot`) and DCS job events (`jobs.events.`, kind `dcs`); each is checked
 * by its own kind's validator (`buffer_kinds.ts`). Requeue's file passes are in
 * `buffer_requeue.ts`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { errorMessage, PlantgateError } from "../core/errors.ts";
import type { Buffer, BufferedEvent } from "./buffer.ts";
import {
  displayFields,
  exportLine,
  jobOrderIdOf,
  kindCounts,
  kindOf,
  lotIdOf,
  rowProblem,
} from "./buffer_kinds.ts";
import { commitLines, scanRequeueFile } from "./buffer_requeue.ts";
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

Inspects and repairs the edge's on-disk buffer (safe while the edge runs). It holds canonical
lot events (kind "lot", lots.events.*) and DCS job events (kind "dcs", jobs.events.*).

Subcommands:
  stats                    backlog (per kind), oldest unsent event, space used, dead letters
  list                     buffered events in forwarding order
  export [--out FILE]      every buffered event as JSON lines
  requeue <file.jsonl>     put exported events back (all lines are validated first)
  verify                   database integrity plus every event row against its kind's schema

${COMMON_HELP}

Run "main.ts buffer <subcommand> --help" for details.
Exit codes: 0 ok, 1 runtime failure or problems found, 2 bad usage or config.`;

/** Rows read per peek(): bounds memory on big buffers. */
const PAGE = 1000;

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

Backlog (events waiting for a JetStream ack, per kind) and its bytes, age of the oldest unsent
event, bytes used against buffer.maxBytes, dead letters (total / not yet forwarded to the centre).
With --buffer and no -c, maxBytes is the 1 GiB default, not the configured one.

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {});
    noPositionals(positionals);
    using target = await openTarget(values);
    const s = target.buffer.stats();
    const byKind: Record<string, number> = {};
    for (const [subject, n] of target.buffer.backlogBySubject()) {
      const kind = kindOf(subject) ?? "unknown";
      byKind[kind] = (byKind[kind] ?? 0) + n;
    }
    const ageMs = s.oldestReceivedAt === null ? null : Date.now() - s.oldestReceivedAt;
    const percent = Number(((100 * s.usedBytes) / s.maxBytes).toFixed(1));
    if (values.json) {
      io.out(JSON.stringify({
        path: target.buffer.path,
        ...s,
        backlogByKind: byKind,
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
      [
        "backlog",
        `${s.backlog} events${s.backlog ? ` (${kindCounts(byKind)})` : ""}, ` +
        formatBytes(s.backlogBytes),
      ],
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

/** One row as `list` shows it: its kind and that kind's key fields. */
function describe(e: BufferedEvent, now: number): Record<string, string | number> {
  const kind = kindOf(e.subject);
  const fields = displayFields(e, kind);
  return {
    seq: e.seq,
    kind: kind ?? "unknown",
    eventId: e.eventId,
    ...fields,
    subject: e.subject,
    receivedAt: new Date(e.receivedAt).toISOString(),
    ageSeconds: Math.floor((now - e.receivedAt) / 1000),
  };
}

const list: Subcommand = {
  usage: `Usage: main.ts buffer list [--limit N] [--after SEQ] [--lot LOTID | --job JOBID] [options]

Buffered events in forwarding order: seq, kind, eventId, type (lot: eventType; dcs: transition),
lot or job (lot: lotId; dcs: jobOrderId), subject, age.
  --limit N       at most N events (default 50)
  --after SEQ     start after this seq (paging: pass the last seq shown)
  --lot LOTID     only lot events of this source lot id
  --job JOBID     only DCS events of this job order id

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {
      limit: { type: "string" },
      after: { type: "string" },
      lot: { type: "string" },
      job: { type: "string" },
    });
    noPositionals(positionals);
    const limit = intFlag(values.limit, "--limit", { fallback: 50, min: 1 });
    const after = intFlag(values.after, "--after", { fallback: 0, min: 0 });
    if (values.lot !== undefined && values.job !== undefined) {
      throw new UsageError("--lot and --job exclude each other: list one lot or one job");
    }
    const wanted = (e: BufferedEvent) =>
      values.lot !== undefined
        ? kindOf(e.subject) === "lot" && lotIdOf(e.lotKey) === values.lot
        : values.job === undefined ||
          (kindOf(e.subject) === "dcs" && jobOrderIdOf(e.lotKey) === values.job);
    using target = await openTarget(values);
    const now = Date.now();
    const rows: BufferedEvent[] = [];
    let more = false;
    for (const e of events(target.buffer, after)) {
      if (!wanted(e)) continue;
      if (rows.length === limit) {
        more = true;
        break;
      }
      rows.push(e);
    }
    const described = rows.map((e) => describe(e, now));
    if (values.json) {
      if (described.length > 0) io.out(described.map((d) => JSON.stringify(d)).join("\n"));
      return 0;
    }
    io.out(formatTable(
      ["SEQ", "KIND", "EVENT ID", "TYPE", "LOT/JOB", "SUBJECT", "AGE"],
      described.map((d) => [
        String(d.seq),
        String(d.kind),
        String(d.eventId),
        String(d.eventType ?? d.transition ?? "-"),
        String(d.lotId ?? d.jobOrderId ?? d.lotKey),
        String(d.subject),
        formatDuration(Number(d.ageSeconds) * 1000),
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

Writes every buffered event as JSON lines, one per event in buffer order, to stdout or to FILE
(which must not exist yet), in the form "buffer requeue" reads back:
  {"kind":"lot"|"dcs","subject":"<JetStream subject>","receivedAt":"<ISO>","event":{...}}
where event is the body exactly as forwarded (canonical lot event or DCS job event, with its
eventId). Progress goes to stderr every 10,000 events. Rows whose body is not JSON, or whose
subject is of no known kind, are skipped and reported (exit 1): run "buffer verify".
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
      const line = exportLine(e);
      if ("problem" in line) {
        skipped++;
        io.err(`seq ${e.seq}: ${line.problem}; not exported`);
        continue;
      }
      page.push(line.text);
      if (++exported % 10_000 === 0) io.err(`exported ${exported} of about ${total} events`);
      if (page.length === PAGE) {
        sink.write(page);
        page = [];
      }
    }
    sink.write(page);
    const where = values.out === undefined ? "" : ` to ${values.out}`;
    io.err(
      `Exported ${exported} events${where}${skipped ? `; skipped ${skipped} (named above)` : ""}`,
    );
    return skipped > 0 ? 1 : 0;
  },
};

const requeue: Subcommand = {
  usage: `Usage: main.ts buffer requeue <file.jsonl> [options]

Puts events (as written by "buffer export") back into the buffer, to be forwarded again on
the subject of each line, with their eventIds. Each line is checked by its kind first: "lot"
against the canonical schema (subject lots.events.<plantId>.<sourceSystem>), "dcs" against the
DCS event schema (subject jobs.events.<plant>.<scope>, receivedAt kept); a line of another kind
is refused. A bare canonical event (an export from before DCS events) is read as kind "lot".
If any line is bad, each is reported with its line number, kind and field, and nothing is
written. Events whose eventId the buffer has already seen (within buffer.dedupeWindowHours)
are counted as duplicates and not stored again, so running requeue twice is harmless.
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
    const { count, byKind, plants, bad } = await scanRequeueFile(file, (p) => io.err(p));
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
      io.out(JSON.stringify({ file, events: count, byKind, ...totals }));
    } else {
      io.out(
        `Requeued ${file}: ${count} events${count ? ` (${kindCounts(byKind)})` : ""}, ` +
          `${totals.stored} stored, ${totals.duplicates} duplicates (already seen by this ` +
          `buffer; not stored again)`,
      );
    }
    return 0;
  },
};

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

Checks the buffer: SQLite integrity_check and size bookkeeping, then every event row by its
kind (subject lots.events.*: the canonical schema; jobs.events.*: the DCS event schema; any
other subject is a problem): body is UTF-8 JSON that passes its kind's schema, and its eventId,
subject and lot key (job:<scope>:<jobOrderId> for DCS) match the row's columns. Then every dead
letter (its bytes match their sha256). Lists each problem with its seq and kind (or dead letter
id) and exits 1 if there is any.

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {});
    noPositionals(positionals);
    using target = await openTarget(values);
    const problems: { seq?: number; kind?: string; deadLetter?: number; problem: string }[] = [];
    try {
      problems.push(...target.buffer.integrityProblems().map((problem) => ({ problem })));
    } catch (error) {
      problems.push({ problem: `sqlite: ${errorMessage(error)}` });
    }
    let checked = 0;
    const byKind: Record<string, number> = {};
    for (const e of events(target.buffer)) {
      checked++;
      const kind = kindOf(e.subject);
      byKind[kind ?? "unknown"] = (byKind[kind ?? "unknown"] ?? 0) + 1;
      const problem = rowProblem(e, kind);
      if (problem) problems.push({ seq: e.seq, kind: kind ?? "unknown", problem });
    }
    problems.push(...deadLetterProblems(target.buffer));
    for (const p of problems) {
      const where = p.seq !== undefined
        ? `seq ${p.seq} (${p.kind})`
        : p.deadLetter !== undefined
        ? `dead letter ${p.deadLetter}`
        : "database";
      io.out(values.json ? JSON.stringify(p) : `${where}: ${p.problem}`);
    }
    const path = target.buffer.path;
    const summary = `${checked} events checked${checked ? ` (${kindCounts(byKind)})` : ""}`;
    io.err(
      problems.length === 0
        ? `Buffer ${path} is sound: ${summary}`
        : `${problems.length} problem(s) in ${path} (${summary})`,
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
