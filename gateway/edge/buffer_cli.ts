import { type CanonicalLotEvent, checkCanonicalEvent } from "../core/canonical_event.ts";
import { lotEventsSubject } from "../io/jetstream.ts";
import {
  age,
  type CliIo,
  intFlag,
  openBuffer,
  parseFlags,
  runSubcommands,
  stdio,
  table,
  UsageError,
} from "./cli_io.ts";

const USAGE = `Usage: main.ts buffer <stats|list|export|requeue|verify> [options]

Inspects the edge's store-and-forward buffer (safe while the edge runs).

  stats                          backlog, bytes, oldest unsent event age, dead letters
  list [--limit N] [--after SEQ] [--lot LOT]
                                 buffered events in forwarding order
  export [--out FILE]            every buffered event as JSON lines
  requeue <file.jsonl>           re-insert exported events (all lines are validated first)
  verify                         SQLite integrity plus every event against the schema

Options:
  -c, --config <file>   edge config naming the buffer (default /etc/plantgate/edge.yaml)
  --buffer <path>       open a buffer file directly (e.g. a copy for forensics)
  --json                machine-readable output`;

const decoder = new TextDecoder();

async function stats(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, {});
  const buffer = await openBuffer(values);
  try {
    const s = buffer.stats();
    if (values.json) {
      io.out(JSON.stringify(s));
      return 0;
    }
    const pct = ((100 * s.usedBytes) / s.maxBytes).toFixed(1);
    io.out(`buffer          ${buffer.path}`);
    io.out(`backlog         ${s.backlog} event(s), ${s.backlogBytes} bytes`);
    io.out(
      `oldest unsent   ${s.oldestReceivedAt === null ? "-" : age(Date.now() - s.oldestReceivedAt)}`,
    );
    io.out(
      `used            ${s.usedBytes} of ${s.maxBytes} bytes (${pct}%; maxBytes as opened here)`,
    );
    io.out(`dead letters    ${s.deadLetters} (${s.deadLettersUnforwarded} not yet at the centre)`);
    return 0;
  } finally {
    buffer.close();
  }
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, {
    limit: { type: "string" },
    after: { type: "string" },
    lot: { type: "string" },
  });
  const limit = intFlag(values.limit, "limit", 50);
  const buffer = await openBuffer(values);
  try {
    const rows: string[][] = [];
    let after = intFlag(values.after, "after", 0);
    while (rows.length < limit) {
      const page = buffer.peek(after, 1000);
      if (page.length === 0) break;
      for (const e of page) {
        after = e.seq;
        const event = JSON.parse(decoder.decode(e.body)) as CanonicalLotEvent;
        if (values.lot && event.lotId !== values.lot) continue;
        if (values.json) io.out(JSON.stringify({ seq: e.seq, ...event }));
        rows.push([
          String(e.seq),
          e.eventId,
          event.eventType,
          event.lotId,
          e.subject,
          age(Date.now() - e.receivedAt),
        ]);
        if (rows.length >= limit) break;
      }
    }
    if (!values.json) {
      table(["seq", "eventId", "type", "lot", "subject", "age"], rows).forEach(io.out);
    }
    return 0;
  } finally {
    buffer.close();
  }
}

async function exportEvents(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, { out: { type: "string" } });
  const buffer = await openBuffer(values);
  const file = values.out
    ? await Deno.open(values.out, { write: true, create: true, truncate: true })
    : undefined;
  const encoder = new TextEncoder();
  let n = 0;
  try {
    for (let after = 0;;) {
      const page = buffer.peek(after, 1000);
      if (page.length === 0) break;
      for (const e of page) {
        const line = decoder.decode(e.body);
        if (file) await file.write(encoder.encode(line + "\n"));
        else io.out(line);
        after = e.seq;
        if (++n % 10_000 === 0) io.err(`exported ${n} events...`);
      }
    }
    io.err(`exported ${n} event(s)${values.out ? ` to ${values.out}` : ""}`);
    return 0;
  } finally {
    file?.close();
    buffer.close();
  }
}

async function requeue(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {});
  if (positionals.length !== 1) {
    throw new UsageError("requeue needs exactly one file of exported events");
  }
  const text = await Deno.readTextFile(positionals[0]);
  const events: CanonicalLotEvent[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      problems.push(`${positionals[0]}:${i + 1}: not JSON: ${(error as Error).message}`);
      return;
    }
    const check = checkCanonicalEvent(value);
    if (!check.ok) problems.push(`${positionals[0]}:${i + 1}: ${check.message}`);
    else events.push(value as CanonicalLotEvent);
  });
  if (problems.length > 0) {
    problems.forEach(io.err);
    io.err(`Nothing requeued: ${problems.length} invalid line(s).`);
    return 1;
  }
  const buffer = await openBuffer(values);
  try {
    let stored = 0, duplicates = 0;
    for (let i = 0; i < events.length; i += 500) {
      const result = buffer.commit(
        events.slice(i, i + 500).map((event) => ({
          kind: "events" as const,
          subject: lotEventsSubject(event.plantId, event.sourceSystem),
          events: [event],
        })),
      );
      stored += result.stored;
      duplicates += result.duplicates;
    }
    io.out(
      `requeued ${stored} event(s); ${duplicates} already seen within the dedupe window (not requeued)`,
    );
    return 0;
  } finally {
    buffer.close();
  }
}

async function verify(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, {});
  const buffer = await openBuffer(values);
  try {
    const problems = buffer.integrityProblems();
    let checked = 0;
    for (let after = 0;;) {
      const page = buffer.peek(after, 1000);
      if (page.length === 0) break;
      for (const e of page) {
        after = e.seq;
        checked++;
        let event: unknown;
        try {
          event = JSON.parse(decoder.decode(e.body));
        } catch {
          problems.push(`seq ${e.seq}: body is not JSON`);
          continue;
        }
        const check = checkCanonicalEvent(event);
        if (!check.ok) problems.push(`seq ${e.seq}: ${check.message}`);
        else if ((event as CanonicalLotEvent).eventId !== e.eventId) {
          problems.push(`seq ${e.seq}: row event id ${e.eventId} differs from the body's`);
        }
      }
    }
    problems.forEach(io.err);
    io.out(`${checked} event(s) checked, ${problems.length} problem(s)`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    buffer.close();
  }
}

/** `main.ts buffer ...`. */
export function runBufferCommand(args: string[], io: CliIo = stdio): Promise<number> {
  return runSubcommands(args, USAGE, { stats, list, export: exportEvents, requeue, verify }, io);
}
