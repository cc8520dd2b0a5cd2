/**
 * `main.ts dlq`: operator commands over the edge's dead letters — list, show, replay, purge.
 * Dead letters keep the original bytes of messages that could not become canonical events, so
 * they can be replayed through the current plugin after a fix. The centre's dead letters
 * (`-c central.yaml`) are `gateway/central/dlq.ts`; main.ts picks by the config.
 *
 * @module
 */
import { createLogger } from "../core/logger.ts";
import { decodeNative } from "../core/plugin_runtime.ts";
import type { Buffer, DeadLetter } from "./buffer.ts";
import {
  base64,
  checkSelection,
  type CliIo,
  codeFlag,
  COMMON_HELP,
  dateFlag,
  defaultIo,
  firstPage,
  formatBytes,
  formatTable,
  intFlag,
  isoOrDash,
  noPositionals,
  openTarget,
  parseCli,
  renderRaw,
  runSubcommand,
  type Subcommand,
  truncate,
  UsageError,
  utf8Text,
  writeStdoutBytes,
} from "./cli_io.ts";
import { isUuid } from "../core/uuid.ts";
import { bindSources } from "./edge.ts";
import type { Source } from "./ingest.ts";

const USAGE = `Usage: main.ts dlq <subcommand> [options]

Dead letters: messages that could not become canonical events, kept with their original bytes
in the edge buffer and forwarded to the centre (dlq.edge.<plant>).

Given a central config (-c central.yaml), the same subcommands work on the centre's dead letters
instead: events the orchestrator could not apply, in the JetStream stream DEAD_LETTERS
(dlq.central.<plant>). See "main.ts dlq --help -c central.yaml".

Subcommands:
  list                                   dead letters, oldest first
  show <id>                              every field and the original bytes
  replay <id...> | --all [--code CODE]   decode again with the current plugin (after a fix)
  purge <id...> | --replayed | --forwarded-before <ISO date>
                                         delete (dry run unless --yes)

${COMMON_HELP}

Run "main.ts dlq <subcommand> --help" for details.
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.`;

/** A dead letter id argument: the numeric id or the dead-letter UUID. */
function parseId(arg: string): number | string {
  if (/^\d+$/.test(arg)) return Number(arg);
  if (isUuid(arg)) {
    return arg.toLowerCase();
  }
  throw new UsageError(`"${arg}" is not a dead letter id (a number or a dead-letter UUID)`);
}

/** Every dead letter, page by page (raw bytes included, so never all at once). */
function* allDeadLetters(
  buffer: Buffer,
  options: { unforwardedOnly?: boolean; afterId?: number } = {},
) {
  for (let afterId = options.afterId ?? 0;;) {
    const page = buffer.deadLetters({
      unforwardedOnly: options.unforwardedOnly,
      afterId,
      limit: 100,
    });
    if (page.length === 0) return;
    yield* page;
    afterId = page.at(-1)!.id;
  }
}

/** The dead letters named on the command line; unknown ids are an error naming them. */
function namedDeadLetters(buffer: Buffer, args: string[]): DeadLetter[] {
  const ids = [...new Set(args.map(parseId))];
  const found = ids.map((id) => buffer.deadLetter(id));
  const missing = ids.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) throw new Error(`No dead letter ${missing.join(", ")} in ${buffer.path}`);
  return found as DeadLetter[];
}

/** One dead letter as a JSON-friendly summary (no raw bytes). */
function summary(dl: DeadLetter) {
  return {
    id: dl.id,
    deadLetterId: dl.deadLetterId,
    receivedAt: new Date(dl.receivedAt).toISOString(),
    topic: dl.topic,
    stage: dl.stage,
    code: dl.code,
    message: dl.message,
    field: dl.field,
    rawSize: dl.rawSize,
    rawKept: dl.raw.byteLength,
    rawSha256: dl.rawSha256,
    forwardedAt: dl.forwardedAt === null ? null : isoOrDash(dl.forwardedAt),
    replayedAt: dl.replayedAt === null ? null : isoOrDash(dl.replayedAt),
  };
}

function sizeOf(dl: DeadLetter): string {
  return formatBytes(dl.rawSize) + (dl.rawSize > dl.raw.byteLength ? " (cut)" : "");
}

const list: Subcommand = {
  usage: `Usage: main.ts dlq list [--limit N] [--code CODE] [--unforwarded] [options]

Dead letters, oldest first: id, received, topic, stage, code, size, forwarded?, replayed?,
message. "(cut)" after the size: only the first ingest.maxPayloadBytes were kept.
  --limit N        at most N (default 50)
  --after ID       start after this id (paging: pass the last id shown)
  --code CODE      only this error code, e.g. invalid_json, plugin_invalid_payload
  --unforwarded    only those not yet forwarded to the centre

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {
      limit: { type: "string" },
      after: { type: "string" },
      code: { type: "string" },
      unforwarded: { type: "boolean" },
    });
    noPositionals(positionals);
    const limit = intFlag(values.limit, "--limit", { fallback: 50, min: 1 });
    const after = intFlag(values.after, "--after", { fallback: 0, min: 0 });
    const code = codeFlag(values.code);
    using target = await openTarget(values);
    const unforwardedOnly = values.unforwarded;
    const { rows, more } = await firstPage(
      allDeadLetters(target.buffer, { unforwardedOnly, afterId: after })
        .filter((dl) => code === undefined || dl.code === code),
      limit,
    );
    if (values.json) {
      if (rows.length > 0) io.out(rows.map((dl) => JSON.stringify(summary(dl))).join("\n"));
      return 0;
    }
    io.out(formatTable(
      ["ID", "RECEIVED", "TOPIC", "STAGE", "CODE", "SIZE", "FWD", "REPLAYED", "MESSAGE"],
      rows.map((dl) => [
        String(dl.id),
        isoOrDash(dl.receivedAt),
        dl.topic,
        dl.stage,
        dl.code,
        sizeOf(dl),
        dl.forwardedAt === null ? "no" : "yes",
        dl.replayedAt === null ? "no" : "yes",
        truncate(dl.message, 60),
      ]),
    ));
    if (more) io.out(`(more: --after ${rows.at(-1)!.id})`);
    return 0;
  },
};

const show: Subcommand = {
  usage: `Usage: main.ts dlq show <id> [--raw] [options]

Every field of one dead letter (by id or dead-letter UUID), the offending field path, and its
original bytes: pretty-printed if JSON, as text if UTF-8, else as a hex dump.
  --raw     write exactly the original bytes to stdout, nothing else (e.g. > message.json)

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, { raw: { type: "boolean" } });
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0 ? "Missing the dead letter <id>" : "show takes one <id>",
      );
    }
    if (values.raw && values.json) throw new UsageError("--raw and --json exclude each other");
    using target = await openTarget(values);
    const [dl] = namedDeadLetters(target.buffer, positionals);
    if (values.raw) {
      (io.rawOut ?? writeStdoutBytes)(dl.raw);
      return 0;
    }
    const cut = dl.rawSize > dl.raw.byteLength;
    if (values.json) {
      const rawText = utf8Text(dl.raw);
      io.out(JSON.stringify({
        ...summary(dl),
        rawBase64: base64(dl.raw),
        ...(rawText === undefined ? {} : { rawText }),
      }));
      return 0;
    }
    const raw = renderRaw(dl.raw);
    io.out(formatTable(["dead letter", `${dl.id} (${dl.deadLetterId})`], [
      ["received", isoOrDash(dl.receivedAt)],
      ["topic", dl.topic],
      ["stage", dl.stage],
      ["code", dl.code],
      ["message", dl.message],
      ["field", dl.field ?? "-"],
      ["size", `${dl.rawSize} bytes${cut ? `, first ${dl.raw.byteLength} kept` : ""}`],
      ["sha256", dl.rawSha256],
      ["forwarded", dl.forwardedAt === null ? "no" : isoOrDash(dl.forwardedAt)],
      ["replayed", dl.replayedAt === null ? "no" : isoOrDash(dl.replayedAt)],
    ]));
    io.out("");
    io.out(`Raw bytes (${dl.raw.byteLength} bytes, ${raw.kind}${cut ? ", cut at ingest" : ""}):`);
    io.out(raw.text);
    return 0;
  },
};

/** What replaying one dead letter came to. */
type ReplayOutcome =
  | { id: number; outcome: "replayed"; stored: number; duplicates: number }
  | { id: number; outcome: "failing"; code: string; message: string; field?: string }
  | { id: number; outcome: "skipped"; reason: string };

/** Replays one dead letter through the current plugin of its topic. */
function replayOne(
  buffer: Buffer,
  dl: DeadLetter,
  sources: Map<string, Source>,
  maxPayloadBytes: number,
): ReplayOutcome {
  const id = dl.id;
  if (dl.replayedAt !== null) {
    return { id, outcome: "skipped", reason: `already replayed at ${isoOrDash(dl.replayedAt)}` };
  }
  if (dl.rawSize > dl.raw.byteLength) {
    return {
      id,
      outcome: "skipped",
      reason: `payload was cut at ingest (${dl.raw.byteLength} of ${dl.rawSize} bytes kept): ` +
        `it cannot be replayed; have the sender re-send it (after raising ingest.maxPayloadBytes)`,
    };
  }
  const source = sources.get(dl.topic);
  if (!source) {
    const message = `no source in the config for topic "${dl.topic}"`;
    return { id, outcome: "failing", code: "no_source_for_topic", message };
  }
  const decoded = decodeNative(source.bound, {
    topic: dl.topic,
    payload: dl.raw,
    observedAt: new Date(dl.receivedAt),
  }, { maxPayloadBytes });
  if (!decoded.ok) {
    const { code, message, field } = decoded;
    return { id, outcome: "failing", code, message, ...(field ? { field } : {}) };
  }
  const result = buffer.commit([
    { kind: "events", subject: source.subject, events: decoded.events },
  ]);
  buffer.markDeadLetterReplayed(dl.id);
  return { id, outcome: "replayed", stored: result.stored, duplicates: result.duplicates };
}

function describeOutcome(r: ReplayOutcome): string {
  switch (r.outcome) {
    case "replayed":
      return `${r.id}: replayed: ${r.stored + r.duplicates} event(s), ${r.stored} new, ` +
        `${r.duplicates} already buffered or forwarded`;
    case "failing":
      return `${r.id}: still failing: ${r.code}: ${r.message}${
        r.field ? ` (field ${r.field})` : ""
      }`;
    case "skipped":
      return `${r.id}: skipped: ${r.reason}`;
  }
}

const replay: Subcommand = {
  usage: `Usage: main.ts dlq replay <id...> | --all [--code CODE] [options]

Decodes the original bytes of dead letters again with the CURRENT plugin of their topic (as
configured now, e.g. after a plugin fix or an options change). On success the events go into
the buffer (normal dedupe: events already seen are not stored twice) and the dead letter is
marked replayed; on failure the new error is shown and the dead letter is left as it is.
Dead letters whose payload was cut at ingest, and ones already replayed, are skipped.
Needs the config (plugins and sources), also with --buffer.
  --all          every dead letter not yet replayed
  --code CODE    with --all: only this error code

Exit 1 when any dead letter is still failing.
${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {
      all: { type: "boolean" },
      code: { type: "string" },
    });
    checkSelection(positionals, { all: values.all, filters: { "--code": values.code } });
    const code = codeFlag(values.code);
    positionals.forEach(parseId);
    using target = await openTarget(values, { needConfig: true });
    const config = target.config!;
    const log = createLogger({ level: "warn", write: (line) => io.err(line) });
    const sources = new Map((await bindSources(config, log)).map((s) => [s.topic, s]));
    const selected = values.all
      ? allDeadLetters(target.buffer)
      : namedDeadLetters(target.buffer, positionals);
    const counts = { replayed: 0, failing: 0, skipped: 0 };
    for (const dl of selected) {
      if (values.all && (dl.replayedAt !== null || (code && dl.code !== code))) continue;
      const result = replayOne(target.buffer, dl, sources, config.ingest.maxPayloadBytes);
      counts[result.outcome]++;
      io.out(values.json ? JSON.stringify(result) : describeOutcome(result));
    }
    io.err(
      `Replayed ${counts.replayed}, still failing ${counts.failing}, skipped ${counts.skipped}`,
    );
    return counts.failing > 0 ? 1 : 0;
  },
};

/** Checks the purge selection flags; returns how to pick the dead letters from a buffer. */
function purgeSelector(
  positionals: string[],
  values: { replayed?: boolean; "forwarded-before"?: string },
): (buffer: Buffer) => DeadLetter[] {
  const before = values["forwarded-before"];
  const modes = [positionals.length > 0, values.replayed === true, before !== undefined];
  if (modes.filter(Boolean).length !== 1) {
    throw new UsageError(
      "Give exactly one of: dead letter ids, --replayed, --forwarded-before <ISO date>",
    );
  }
  if (positionals.length > 0) {
    positionals.forEach(parseId);
    return (buffer) => namedDeadLetters(buffer, positionals);
  }
  if (values.replayed) {
    return (buffer) => [...allDeadLetters(buffer)].filter((dl) => dl.replayedAt !== null);
  }
  const cutoff = dateFlag(before, "--forwarded-before")!;
  return (buffer) =>
    [...allDeadLetters(buffer)].filter((dl) => dl.forwardedAt !== null && dl.forwardedAt < cutoff);
}

const purge: Subcommand = {
  usage: `Usage: main.ts dlq purge <id...> | --replayed | --forwarded-before <ISO date> [options]

Deletes dead letters. Without --yes it only lists what would be deleted (dry run, exit 0).
Dead letters not yet forwarded to the centre exist nowhere else: purging them loses them for
good, so that is refused (exit 1, nothing deleted) unless --force.
  --replayed                   those replayed successfully
  --forwarded-before <date>    those forwarded to the centre before this ISO date or time
  --yes                        really delete
  --force                      also delete dead letters not yet forwarded

${COMMON_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseCli(args, {
      replayed: { type: "boolean" },
      "forwarded-before": { type: "string" },
      yes: { type: "boolean" },
      force: { type: "boolean" },
    });
    const select = purgeSelector(positionals, values);
    using target = await openTarget(values);
    const selected = select(target.buffer);
    const unforwarded = selected.filter((dl) => dl.forwardedAt === null);
    const guarded = unforwarded.length > 0 && !values.force;
    if (selected.length === 0) {
      io.err("No dead letters match; nothing to delete");
      return 0;
    }
    const refusal = `${unforwarded.length} of them not yet forwarded to the centre ` +
      `(id ${unforwarded.map((dl) => dl.id).join(", ")}): purging those loses them for good, ` +
      `there is no other copy. Wait until the edge has forwarded them ` +
      `("dlq list --unforwarded"), or add --force`;
    if (!values.yes || guarded) {
      report(io, selected, values.json === true, values.yes ? "refused" : "would_delete");
      if (values.yes) {
        io.err(`Refusing to purge ${selected.length} dead letter(s), nothing deleted: ${refusal}`);
        return 1;
      }
      io.err(`Dry run: would delete ${selected.length} dead letter(s); add --yes to delete`);
      if (guarded) io.err(`Note: --yes alone would be refused: ${refusal}`);
      return 0;
    }
    const deleted = target.buffer.purgeDeadLetters(selected.map((dl) => dl.id));
    report(io, selected, values.json === true, "deleted");
    io.err(`Deleted ${deleted} dead letter(s)`);
    return 0;
  },
};

function report(io: CliIo, selected: DeadLetter[], json: boolean, action: string): void {
  if (json) {
    io.out(selected.map((dl) => JSON.stringify({ action, ...summary(dl) })).join("\n"));
    return;
  }
  io.out(formatTable(
    ["ID", "RECEIVED", "CODE", "FORWARDED", "REPLAYED", "MESSAGE"],
    selected.map((dl) => [
      String(dl.id),
      isoOrDash(dl.receivedAt),
      dl.code,
      isoOrDash(dl.forwardedAt),
      isoOrDash(dl.replayedAt),
      truncate(dl.message, 50),
    ]),
  ));
}

/**
 * `main.ts dlq <list|show|replay|purge>`: returns the exit code (0 ok, 1 runtime failure,
 * 2 bad usage or config).
 */
export function runDlqCommand(args: string[], io: CliIo = defaultIo): Promise<number> {
  return runSubcommand(USAGE, { list, show, replay, purge }, args, io);
}
