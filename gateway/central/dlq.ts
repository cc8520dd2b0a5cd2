/**
 * `main.ts dlq -c central.yaml`: operator commands over the centre's dead letters — events the
 * orchestrator could not apply, kept in the JetStream stream `DEAD_LETTERS` under
 * `dlq.central.<plant>` with their original bytes and `Plantgate-*` headers — list, show,
 * replay (to the original subject, after a fix; the orchestrator applies events idempotently)
 * and purge. The edge's dead letters are `gateway/edge/dlq_cli.ts`; flags and output match.
 *
 * @module
 */
import { errorMessage, type Stage } from "../core/errors.ts";
import {
  base64,
  checkSelection,
  type CliIo,
  codeFlag,
  dateFlag,
  defaultIo,
  firstPage,
  formatTable,
  intFlag,
  noPositionals,
  parseFlags,
  renderRaw,
  runSubcommand,
  type Subcommand,
  truncate,
  UsageError,
  utf8Text,
  writeStdoutBytes,
} from "../edge/cli_io.ts";
import {
  type CentralDeadLetter,
  deleteDeadLetter,
  type Filter,
  namedDeadLetters,
  openCentral,
  type OpenCentralOptions,
  parseSeq,
  PREFIX,
  replayOne,
  type ReplayOutcome,
  selection,
  STREAM,
} from "./dead_letters.ts";

const DEFAULT_CONFIG = "/etc/plantgate/central.yaml";
/** Every stage, so `--stage` is checked against the real list (a new one is a type error). */
const STAGES: Record<Stage, true> = {
  ingest: true,
  decode: true,
  validate: true,
  buffer: true,
  forward: true,
  downlink: true,
  apply: true,
  config: true,
  plugin: true,
};

const COMMON_HELP = `Common options:
  -c, --config <file>   central config; its nats section says where DEAD_LETTERS is
      --json            JSON lines on stdout instead of text
  -h, --help            this help`;

const FILTER_HELP = `  --plant ID       only this plant's (dlq.central.<ID>)
  --code CODE      only this error code, e.g. event_invalid, apply_failed, invalid_json
  --stage STAGE    only this stage: decode, validate or apply
  --since DATE     only those dead-lettered at or after this ISO date or time`;

const COMMON = {
  help: { type: "boolean", short: "h" },
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
} as const;

const FILTERS = {
  plant: { type: "string" },
  code: { type: "string" },
  stage: { type: "string" },
  since: { type: "string" },
} as const;

const USAGE = `Usage: main.ts dlq <subcommand> -c <central.yaml> [options]

The centre's dead letters: events the orchestrator could not apply (not JSON, not a valid
canonical event, or still failing after orchestrator.maxDeliver deliveries), kept with their
original bytes in the JetStream stream DEAD_LETTERS under dlq.central.<plant>. Without a central
config, dlq works on the edge buffer's dead letters.

Subcommands:
  list                                   dead letters, oldest first
  show <seq>                             headers and the event, pretty-printed
  replay <seq...> | --all [filters]      publish again to the original subject, then delete
  purge <seq...> | --all [filters]       delete (dry run unless --yes)

<seq> is the dead letter's sequence in DEAD_LETTERS (the SEQ column of "dlq list").
${COMMON_HELP}

Run "main.ts dlq <subcommand> --help -c <central.yaml>" for details.
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.`;

/** One dead letter as a JSON-friendly summary (no bytes). */
function summary(dl: CentralDeadLetter) {
  const { data, otherHeaders: _, ...rest } = dl;
  return { ...rest, time: dl.time.toISOString(), size: data.byteLength };
}

/** Options of {@linkcode runCentralDlqCommand}. */
export interface CentralDlqOptions extends OpenCentralOptions {
  /** At most one progress line on stderr per this interval in replay and purge. Default 2000. */
  progressIntervalMs?: number;
}

/** Checks the filter flags; throws a {@linkcode UsageError} naming the bad one. */
function parseFilter(values: { plant?: string; code?: string; stage?: string; since?: string }) {
  const { plant, stage } = values;
  if (plant !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(plant)) {
    throw new UsageError(`--plant "${plant}" is not a plant id (letters, digits, _ and -)`);
  }
  if (stage !== undefined && !Object.hasOwn(STAGES, stage)) {
    throw new UsageError(
      `--stage "${stage}" is not a stage (one of ${Object.keys(STAGES).join(", ")})`,
    );
  }
  return { plant, stage, code: codeFlag(values.code), since: dateFlag(values.since, "--since") };
}

/** At most one progress line on stderr per interval: `checked` of `total`, and counts. */
function progressReporter(io: CliIo, total: number, options: CentralDlqOptions) {
  const interval = options.progressIntervalMs ?? 2_000;
  let last = Date.now();
  return (checked: number, counts: Record<string, number>) => {
    if (Date.now() - last < interval || checked === total) return;
    last = Date.now();
    const parts = Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(", ");
    io.err(`… ${checked} of ${total} checked: ${parts}`);
  };
}

/** A central subcommand: like {@linkcode Subcommand}, with the connection options. */
interface CentralSubcommand {
  usage: string;
  run(args: string[], io: CliIo, options: CentralDlqOptions): Promise<number>;
}

const list: CentralSubcommand = {
  usage: `Usage: main.ts dlq list -c <central.yaml> [--limit N] [--after SEQ] [filters] [options]

Central dead letters, oldest first: seq in DEAD_LETTERS, time dead-lettered, plant, original
subject, error code, stage, deliveries, event id, message.
  --limit N        at most N (default 50)
  --after SEQ      start after this seq (paging: pass the last seq shown)
${FILTER_HELP}

Examples:
  main.ts dlq list -c central.yaml --plant A --code apply_failed
  main.ts dlq list -c central.yaml --since 2026-11-22T06:00Z --json

${COMMON_HELP}`,
  async run(args, io, options) {
    const { values, positionals } = parseFlags(args, {
      ...COMMON,
      ...FILTERS,
      limit: { type: "string" },
      after: { type: "string" },
    });
    noPositionals(positionals);
    const limit = intFlag(values.limit, "--limit", { fallback: 50, min: 1 });
    const after = intFlag(values.after, "--after", { fallback: 0, min: 0 });
    const filter = { ...parseFilter(values), after: after || undefined };
    await using central = await openCentral(values.config ?? DEFAULT_CONFIG, io, options);
    const { rows, more } = await firstPage((await selection(central, [], filter)).letters, limit);
    if (values.json) {
      if (rows.length > 0) io.out(rows.map((dl) => JSON.stringify(summary(dl))).join("\n"));
    } else {
      io.out(formatTable(
        ["SEQ", "TIME", "PLANT", "SUBJECT", "CODE", "STAGE", "DELIVERIES", "EVENT ID", "MESSAGE"],
        rows.map((dl) => [
          String(dl.seq),
          dl.time.toISOString(),
          dl.plant,
          dl.subject || "-",
          dl.code,
          dl.stage,
          String(dl.deliveries ?? "-"),
          dl.eventId ?? "-",
          truncate(dl.message, 60),
        ]),
      ));
    }
    if (more) io.out(`(more: --after ${rows.at(-1)!.seq})`);
    return 0;
  },
};

/** The rows of `show` after the first: every field, then headers we do not know. */
function showRows(dl: CentralDeadLetter): string[][] {
  const { stream, seq } = dl.origin;
  return [
    ["time", dl.time.toISOString()],
    ["plant", dl.plant],
    ["subject", dl.subject || "- (no Plantgate-Subject header: cannot be replayed)"],
    ["stage", dl.stage],
    ["code", dl.code],
    ["message", dl.message || "-"],
    ["deliveries", String(dl.deliveries ?? "-")],
    ["origin", seq === null ? "-" : `${stream ?? "stream"} seq ${seq}`],
    ["msg id", dl.msgId ?? "-"],
    ["event id", dl.eventId ?? "-"],
    ["size", `${dl.data.byteLength} bytes`],
    ...dl.otherHeaders,
  ];
}

const show: CentralSubcommand = {
  usage: `Usage: main.ts dlq show <seq> -c <central.yaml> [--raw] [options]

One central dead letter: its headers (stage, code, message, original subject, deliveries, where
the event was in its stream, msg id) and the event, pretty-printed if JSON, as text if UTF-8,
else as a hex dump.
  --raw     write exactly the event's bytes to stdout, nothing else (e.g. > event.json)

Examples:
  main.ts dlq show 12 -c central.yaml
  main.ts dlq show 12 -c central.yaml --raw > event-12.json

${COMMON_HELP}`,
  async run(args, io, options) {
    const { values, positionals } = parseFlags(args, { ...COMMON, raw: { type: "boolean" } });
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0 ? "Missing the dead letter <seq>" : "show takes one <seq>",
      );
    }
    if (values.raw && values.json) throw new UsageError("--raw and --json exclude each other");
    parseSeq(positionals[0]);
    await using central = await openCentral(values.config ?? DEFAULT_CONFIG, io, options);
    const [dl] = await namedDeadLetters(central, positionals);
    if (values.raw) {
      (io.rawOut ?? writeStdoutBytes)(dl.data);
      return 0;
    }
    if (values.json) {
      const rawText = utf8Text(dl.data);
      io.out(JSON.stringify({
        ...summary(dl),
        headers: Object.fromEntries(dl.otherHeaders),
        rawBase64: base64(dl.data),
        ...(rawText === undefined ? {} : { rawText }),
      }));
      return 0;
    }
    const raw = renderRaw(dl.data);
    io.out(
      formatTable(["dead letter", `${dl.seq} (${STREAM}, ${PREFIX}${dl.plant})`], showRows(dl)),
    );
    io.out("");
    io.out(`Event (${dl.data.byteLength} bytes, ${raw.kind}):`);
    io.out(raw.text);
    return 0;
  },
};

function describeOutcome(r: ReplayOutcome): string {
  switch (r.outcome) {
    case "replayed":
      return `${r.seq}: replayed to ${r.subject} (${r.stream} seq ${r.streamSeq}${
        r.duplicate ? ", already published by an earlier replay" : ""
      }), dead letter deleted`;
    case "would_replay":
      return `${r.seq}: would replay to ${r.subject} (event ${r.eventId ?? "-"})`;
    case "failing":
      return `${r.seq}: still failing: ${r.message}`;
    case "skipped":
      return `${r.seq}: skipped: ${r.reason}`;
  }
}

/** The filter of `--all` (checked), or undefined for named dead letters. */
function selectionFilter(
  positionals: string[],
  values: { all?: boolean; plant?: string; code?: string; stage?: string; since?: string },
): Filter | undefined {
  const { all, plant, code, stage, since } = values;
  checkSelection(positionals, {
    all,
    filters: { "--plant": plant, "--code": code, "--stage": stage, "--since": since },
  });
  positionals.forEach(parseSeq);
  return all ? parseFilter(values) : undefined;
}

const replay: CentralSubcommand = {
  usage:
    `Usage: main.ts dlq replay <seq...> | --all [filters] -c <central.yaml> [--dry-run] [options]

Publishes the original bytes of central dead letters again to their original subject
(Plantgate-Subject, e.g. lots.events.A.sap) for the orchestrator to apply, after a fix (a
database back, a schema or code change); then, only once JetStream has acknowledged the
publish, deletes the dead letter. The orchestrator applies events idempotently (event id), so a
replay of an event already applied is harmless; an event that still fails is dead-lettered
again, with a new seq. The msg id is replay:<seq>:<dead letter's msg id>, so JetStream does not
drop it as a duplicate of the original event.
  --all          every central dead letter (in seq order), or those matching the filters:
${FILTER_HELP.replaceAll(/^ {2}/gm, "    ")}
  --dry-run      only show what would be replayed; publish and delete nothing

Progress goes to stderr every few seconds. Exit 1 when any publish or delete failed (those
dead letters are kept).

Examples:
  main.ts dlq replay 12 13 -c central.yaml
  main.ts dlq replay --all --code apply_failed --plant A -c central.yaml --dry-run
  main.ts dlq replay --all --since 2026-11-22 -c central.yaml

${COMMON_HELP}`,
  async run(args, io, options) {
    const { values, positionals } = parseFlags(args, {
      ...COMMON,
      ...FILTERS,
      all: { type: "boolean" },
      "dry-run": { type: "boolean" },
    });
    const filter = selectionFilter(positionals, values);
    const dryRun = values["dry-run"] === true;
    await using central = await openCentral(values.config ?? DEFAULT_CONFIG, io, options);
    const { total, letters } = await selection(central, positionals, filter);
    const counts = { replayed: 0, "still failing": 0, skipped: 0 };
    const progress = progressReporter(io, total, options);
    let checked = 0;
    for await (const dl of letters) {
      const result = await replayOne(central, dl, dryRun);
      const outcome = result.outcome;
      counts[
        outcome === "failing" ? "still failing" : outcome === "skipped" ? outcome : "replayed"
      ]++;
      io.out(values.json ? JSON.stringify(result) : describeOutcome(result));
      progress(++checked, counts);
    }
    const { replayed, skipped } = counts;
    io.err(
      dryRun
        ? `Dry run: would replay ${replayed}, skip ${skipped}; nothing published or deleted`
        : `Replayed ${replayed}, still failing ${counts["still failing"]}, skipped ${skipped}`,
    );
    return counts["still failing"] > 0 ? 1 : 0;
  },
};

type Summary = ReturnType<typeof summary>;

function report(io: CliIo, rows: Summary[], json: boolean, action: string): void {
  if (json) {
    if (rows.length > 0) io.out(rows.map((s) => JSON.stringify({ action, ...s })).join("\n"));
    return;
  }
  io.out(formatTable(
    ["SEQ", "TIME", "PLANT", "CODE", "STAGE", "EVENT ID", "MESSAGE"],
    rows.map((s) => [
      String(s.seq),
      s.time,
      s.plant,
      s.code,
      s.stage,
      s.eventId ?? "-",
      truncate(s.message, 50),
    ]),
  ));
}

const purge: CentralSubcommand = {
  usage: `Usage: main.ts dlq purge <seq...> | --all [filters] -c <central.yaml> [--yes] [options]

Deletes central dead letters for good (there is no other copy of the event). Without --yes it
only lists what would be deleted (dry run, exit 0).
  --all          every central dead letter, or those matching the filters:
${FILTER_HELP.replaceAll(/^ {2}/gm, "    ")}
  --yes          really delete

Examples:
  main.ts dlq purge 12 -c central.yaml --yes
  main.ts dlq purge --all --code event_invalid --plant A -c central.yaml        (dry run)
  main.ts dlq purge --all --code event_invalid --plant A -c central.yaml --yes

${COMMON_HELP}`,
  async run(args, io, options) {
    const { values, positionals } = parseFlags(args, {
      ...COMMON,
      ...FILTERS,
      all: { type: "boolean" },
      yes: { type: "boolean" },
    });
    const filter = selectionFilter(positionals, values);
    await using central = await openCentral(values.config ?? DEFAULT_CONFIG, io, options);
    const { total, letters } = await selection(central, positionals, filter);
    const done: Summary[] = [];
    const counts = { deleted: 0, failed: 0 };
    const progress = progressReporter(io, total, options);
    let checked = 0;
    for await (const dl of letters) {
      if (!values.yes) done.push(summary(dl));
      else {
        try {
          await deleteDeadLetter(central, dl.seq);
          done.push(summary(dl));
          counts.deleted++;
        } catch (error) {
          counts.failed++;
          io.err(`${dl.seq}: cannot delete: ${errorMessage(error)}`);
        }
      }
      progress(++checked, counts);
    }
    if (done.length === 0 && counts.failed === 0) {
      io.err("No dead letters match; nothing to delete");
      return 0;
    }
    report(io, done, values.json === true, values.yes ? "deleted" : "would_delete");
    if (!values.yes) {
      io.err(`Dry run: would delete ${done.length} dead letter(s); add --yes to delete`);
      return 0;
    }
    io.err(
      `Deleted ${counts.deleted} dead letter(s)` +
        (counts.failed > 0 ? `, ${counts.failed} could not be deleted` : ""),
    );
    return counts.failed > 0 ? 1 : 0;
  },
};

/**
 * `main.ts dlq <list|show|replay|purge> -c central.yaml`: returns the exit code (0 ok,
 * 1 runtime failure, 2 bad usage or config).
 */
export function runCentralDlqCommand(
  args: string[],
  io: CliIo = defaultIo,
  options: CentralDlqOptions = {},
): Promise<number> {
  const subcommands: Record<string, Subcommand> = {};
  for (const [name, sub] of Object.entries({ list, show, replay, purge })) {
    subcommands[name] = { usage: sub.usage, run: (a, i) => sub.run(a, i, options) };
  }
  return runSubcommand(USAGE, subcommands, args, io);
}
