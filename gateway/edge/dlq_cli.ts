import { loadEdgeConfig } from "../core/edge_config.ts";
import { createLogger } from "../core/logger.ts";
import { decodeNative } from "../core/plugin_runtime.ts";
import type { Buffer, DeadLetter } from "./buffer.ts";
import {
  type CliIo,
  intFlag,
  openBuffer,
  parseFlags,
  runSubcommands,
  stdio,
  table,
  UsageError,
} from "./cli_io.ts";
import { bindSources } from "./edge.ts";

const USAGE = `Usage: main.ts dlq <list|show|replay|purge> [options]

Dead letters: messages that could not become canonical events, kept with their original bytes.

  list [--limit N] [--code CODE] [--unforwarded]
                                  dead letters, oldest first
  show <id> [--raw]               every field and the original bytes (--raw: bytes only)
  replay <id...> | --all [--code CODE]
                                  decode again with the current plugin (after a fix); the
                                  events go into the buffer and the dead letter is marked
  purge <id...> | --replayed | --forwarded-before <ISO date>  [--yes] [--force]
                                  delete; without --yes only shows what would go; dead
                                  letters not yet at the centre need --force

Options:
  -c, --config <file>   edge config (default /etc/plantgate/edge.yaml); replay needs it
  --buffer <path>       open a buffer file directly (not for replay)
  --json                machine-readable output`;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function allDeadLetters(buffer: Buffer): DeadLetter[] {
  const out: DeadLetter[] = [];
  for (let after = 0;;) {
    const page = buffer.deadLetters({ afterId: after, limit: 1000 });
    if (page.length === 0) return out;
    out.push(...page);
    after = page.at(-1)!.id;
  }
}

function ids(positionals: string[]): number[] {
  return positionals.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n <= 0) {
      throw new UsageError(`dead letter ids are whole numbers, got "${p}"`);
    }
    return n;
  });
}

const iso = (ms: number | null) => ms === null ? "-" : new Date(ms).toISOString();

async function list(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, {
    limit: { type: "string" },
    code: { type: "string" },
    unforwarded: { type: "boolean" },
  });
  const limit = intFlag(values.limit, "limit", 100);
  const buffer = await openBuffer(values);
  try {
    const letters = allDeadLetters(buffer)
      .filter((d) =>
        (!values.code || d.code === values.code) && (!values.unforwarded || d.forwardedAt === null)
      )
      .slice(0, limit);
    if (values.json) {
      for (const d of letters) io.out(JSON.stringify({ ...d, raw: undefined }));
      return 0;
    }
    table(
      ["id", "received", "topic", "stage", "code", "size", "forwarded", "replayed", "message"],
      letters.map((d) => [
        String(d.id),
        iso(d.receivedAt),
        d.topic,
        d.stage,
        d.code,
        String(d.rawSize),
        d.forwardedAt === null ? "no" : "yes",
        d.replayedAt === null ? "no" : "yes",
        d.message.length > 60 ? d.message.slice(0, 57) + "..." : d.message,
      ]),
    ).forEach(io.out);
    return 0;
  } finally {
    buffer.close();
  }
}

function hexDump(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = [...bytes.subarray(i, i + 16)];
    const hex = chunk.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = chunk.map((b) => b >= 32 && b < 127 ? String.fromCharCode(b) : ".").join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(48)}  ${ascii}`);
  }
  return lines;
}

async function show(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, { raw: { type: "boolean" } });
  const [id] = ids(positionals);
  if (id === undefined || positionals.length !== 1) {
    throw new UsageError("show needs one dead letter id");
  }
  const buffer = await openBuffer(values);
  try {
    const d = buffer.deadLetter(id);
    if (!d) {
      io.err(`No dead letter ${id}`);
      return 1;
    }
    if (values.raw) {
      io.raw(d.raw);
      return 0;
    }
    if (values.json) {
      io.out(JSON.stringify({ ...d, raw: btoa(String.fromCharCode(...d.raw)) }));
      return 0;
    }
    for (
      const [k, v] of Object.entries({
        id: d.id,
        deadLetterId: d.deadLetterId,
        received: iso(d.receivedAt),
        topic: d.topic,
        stage: d.stage,
        code: d.code,
        field: d.field ?? "-",
        message: d.message,
        size: `${d.rawSize} bytes${
          d.rawSize > d.raw.length ? ` (first ${d.raw.length} kept)` : ""
        }`,
        sha256: d.rawSha256,
        forwarded: iso(d.forwardedAt),
        replayed: iso(d.replayedAt),
      })
    ) io.out(`${k.padEnd(13)} ${v}`);
    io.out("");
    try {
      const text = utf8.decode(d.raw);
      try {
        io.out(JSON.stringify(JSON.parse(text), null, 2));
      } catch {
        io.out(text);
      }
    } catch {
      hexDump(d.raw).forEach(io.out);
    }
    return 0;
  } finally {
    buffer.close();
  }
}

async function replay(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    all: { type: "boolean" },
    code: { type: "string" },
  });
  if (values.buffer) {
    throw new UsageError("replay needs the config (-c) to know the plugins, not --buffer");
  }
  if (!values.all && positionals.length === 0) {
    throw new UsageError("replay needs dead letter ids or --all");
  }
  const config = await loadEdgeConfig(values.config ?? "/etc/plantgate/edge.yaml");
  const sources = new Map(
    (await bindSources(config, createLogger({ level: "error" }))).map((s) => [s.topic, s]),
  );
  const buffer = await openBuffer(values);
  const counts = { replayed: 0, failing: 0, skipped: 0 };
  try {
    const wanted = new Set(ids(positionals));
    const letters = allDeadLetters(buffer).filter((d) =>
      d.replayedAt === null &&
      (values.all ? !values.code || d.code === values.code : wanted.has(d.id))
    );
    for (const d of letters) {
      const source = sources.get(d.topic);
      if (d.rawSize > d.raw.length) {
        io.out(`${d.id}: skipped: only the first ${d.raw.length} of ${d.rawSize} bytes were kept`);
        counts.skipped++;
        continue;
      }
      if (!source) {
        io.out(`${d.id}: skipped: no source is configured for topic "${d.topic}"`);
        counts.skipped++;
        continue;
      }
      const outcome = decodeNative(source.bound, {
        topic: d.topic,
        payload: d.raw,
        observedAt: new Date(),
      }, {
        maxPayloadBytes: config.ingest.maxPayloadBytes,
      });
      if (!outcome.ok) {
        io.out(`${d.id}: still failing: ${outcome.code}: ${outcome.message}`);
        counts.failing++;
        continue;
      }
      const result = buffer.commit([{
        kind: "events",
        subject: source.subject,
        events: outcome.events,
      }]);
      buffer.markDeadLetterReplayed(d.id);
      io.out(
        `${d.id}: replayed: ${result.stored} event(s) buffered, ${result.duplicates} already seen`,
      );
      counts.replayed++;
    }
    io.out(
      `${counts.replayed} replayed, ${counts.failing} still failing, ${counts.skipped} skipped`,
    );
    return counts.failing > 0 ? 1 : 0;
  } finally {
    buffer.close();
  }
}

async function purge(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    replayed: { type: "boolean" },
    "forwarded-before": { type: "string" },
    yes: { type: "boolean" },
    force: { type: "boolean" },
  });
  const before = values["forwarded-before"] ? Date.parse(values["forwarded-before"]) : undefined;
  if (before !== undefined && Number.isNaN(before)) {
    throw new UsageError(
      `--forwarded-before must be an ISO date, got "${values["forwarded-before"]}"`,
    );
  }
  if (positionals.length === 0 && !values.replayed && before === undefined) {
    throw new UsageError("purge needs dead letter ids, --replayed or --forwarded-before");
  }
  const buffer = await openBuffer(values);
  try {
    const wanted = new Set(ids(positionals));
    const chosen = allDeadLetters(buffer).filter((d) =>
      wanted.has(d.id) || (values.replayed && d.replayedAt !== null) ||
      (before !== undefined && d.forwardedAt !== null && d.forwardedAt < before)
    );
    const unsent = chosen.filter((d) => d.forwardedAt === null);
    if (unsent.length > 0 && !values.force) {
      io.err(
        `Refusing: ${unsent.length} of them (${
          unsent.map((d) => d.id).join(", ")
        }) never reached the centre; purging would lose them for good. Add --force if that is intended.`,
      );
      return 1;
    }
    if (!values.yes) {
      chosen.forEach((d) => io.out(`would purge ${d.id} (${d.code}, ${d.topic})`));
      io.out(`${chosen.length} dead letter(s) would be purged; add --yes to do it`);
      return 0;
    }
    io.out(`purged ${buffer.purgeDeadLetters(chosen.map((d) => d.id))} dead letter(s)`);
    return 0;
  } finally {
    buffer.close();
  }
}

/** `main.ts dlq ...`. */
export function runDlqCommand(args: string[], io: CliIo = stdio): Promise<number> {
  return runSubcommands(args, USAGE, { list, show, replay, purge }, io);
}
