/**
 * Plumbing shared by the operator commands `buffer` and `dlq` (edge and central): where output
 * goes, flag parsing with usage errors, opening the buffer named by a config (or directly), and
 * human formats.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { type EdgeConfig, loadEdgeConfig } from "../core/edge_config.ts";
import { ERROR_CODES, type ErrorCode, errorMessage, PlantgateError } from "../core/errors.ts";
import { Buffer } from "./buffer.ts";

/** Where a command writes: `out` for results (stdout), `err` for messages (stderr). */
export interface CliIo {
  /** One line (or several, joined by newlines) of results. */
  out(line: string): void;
  /** One line of messages, progress or errors. */
  err(line: string): void;
  /** Exact bytes to stdout (`dlq show --raw`). Default: written to Deno.stdout. */
  rawOut?(bytes: Uint8Array): void;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += file.writeSync(bytes.subarray(done));
}

/** Writes bytes to stdout, all of them (pipes take partial writes). */
export function writeStdoutBytes(bytes: Uint8Array): void {
  writeAll(Deno.stdout, bytes);
}

/** The real terminal: results on stdout, messages on stderr. */
export const defaultIo: CliIo = {
  out: (line) => writeAll(Deno.stdout, encoder.encode(line + "\n")),
  err: (line) => writeAll(Deno.stderr, encoder.encode(line + "\n")),
  rawOut: writeStdoutBytes,
};

/** A {@linkcode CliIo} that keeps everything in memory (tests, embedding). */
export function captureIo(): CliIo & { stdout: string[]; stderr: string[]; raw: Uint8Array[] } {
  const captured = { stdout: [] as string[], stderr: [] as string[], raw: [] as Uint8Array[] };
  return {
    ...captured,
    out: (line) => captured.stdout.push(...line.split("\n")),
    err: (line) => captured.stderr.push(...line.split("\n")),
    rawOut: (bytes) => captured.raw.push(bytes.slice()),
  };
}

/** Bad usage: exit code 2, the message names the flag or argument, then the usage text. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The config file used when `-c` is not given. */
export const DEFAULT_CONFIG = "/etc/plantgate/edge.yaml";

/** Help text of the options every `buffer` and `dlq` subcommand takes. */
export const COMMON_HELP = `Common options:
  -c, --config <file>   edge config naming the buffer (default ${DEFAULT_CONFIG})
      --buffer <file>   open this buffer file directly, e.g. a copy (no config needed)
      --json            JSON lines on stdout instead of text
  -h, --help            this help`;

const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  config: { type: "string", short: "c" },
  buffer: { type: "string" },
  json: { type: "boolean" },
} as const;

/** Parses exactly these flags; unknown flags become a {@linkcode UsageError} naming them. */
export function parseFlags<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's hint about "--" after the first sentence only confuses operators.
    throw new UsageError(errorMessage(error).replace(/\. To specify a positional.*$/s, ""));
  }
}

/** Parses flags strictly (common ones included); unknown flags become a {@linkcode UsageError}. */
export function parseCli<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  return parseFlags(args, { ...COMMON_OPTIONS, ...options });
}

/**
 * The value of `-c`/`--config` in `args` (the last one wins, as in parsing), without parsing
 * anything else: commands that serve both roles pick their implementation by the config.
 */
export function configFlag(args: string[]): string | undefined {
  let file: string | undefined;
  for (let i = 0; i < args.length && args[i] !== "--"; i++) {
    const arg = args[i];
    if (arg === "-c" || arg === "--config") file = args[++i];
    else if (arg.startsWith("--config=")) file = arg.slice("--config=".length);
    else if (/^-c./.test(arg)) file = arg.slice(2);
  }
  return file;
}

/** Throws a {@linkcode UsageError} unless `code` is a known error code (`--code`). */
export function codeFlag(code: string | undefined): ErrorCode | undefined {
  if (code === undefined || Object.hasOwn(ERROR_CODES, code)) return code as ErrorCode;
  throw new UsageError(
    `--code "${code}" is not an error code (one of ${Object.keys(ERROR_CODES).join(", ")})`,
  );
}

/** Parses an ISO date or time flag (ms), undefined when absent; a {@linkcode UsageError} else. */
export function dateFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new UsageError(`${flag} "${value}" is not an ISO date (e.g. 2026-03-01)`);
  }
  return ms;
}

/**
 * Checks the selection of `replay`/`purge`: ids or `--all`, not both and not neither; filter
 * flags (name -> value, undefined when absent) only with `--all`.
 */
export function checkSelection(
  ids: string[],
  options: { all?: boolean; filters?: Record<string, unknown> },
): void {
  if (options.all && ids.length > 0) {
    throw new UsageError("Give dead letter ids or --all, not both");
  }
  if (!options.all && ids.length === 0) throw new UsageError("Missing dead letter ids (or --all)");
  const given = Object.entries(options.filters ?? {}).find(([, v]) => v !== undefined);
  if (given && !options.all) throw new UsageError(`${given[0]} only applies with --all`);
}

/** Parses an integer flag, `fallback` when absent; throws a {@linkcode UsageError} naming it. */
export function intFlag(
  value: string | undefined,
  flag: string,
  options: { fallback: number; min: number },
): number {
  if (value === undefined) return options.fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < options.min) {
    throw new UsageError(
      `${flag} must be a whole number of at least ${options.min}, got "${value}"`,
    );
  }
  return n;
}

/** A subcommand: its help text and what it does. */
export interface Subcommand {
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/**
 * Dispatches `<command> <subcommand> [args]`, owning help and exit codes: 0 ok, 1 runtime
 * failure, 2 bad usage ({@linkcode UsageError}) or config (`config_invalid`).
 */
export async function runSubcommand(
  usage: string,
  subcommands: Record<string, Subcommand>,
  args: string[],
  io: CliIo,
): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    io.out(usage);
    return 0;
  }
  const sub = name === undefined
    ? undefined
    : Object.hasOwn(subcommands, name)
    ? subcommands[name]
    : undefined;
  if (!sub) {
    io.err(name === undefined ? "Missing subcommand" : `Unknown subcommand "${name}"`);
    io.err("");
    io.err(usage);
    return 2;
  }
  const end = rest.indexOf("--");
  const flags = end === -1 ? rest : rest.slice(0, end);
  if (flags.includes("--help") || flags.includes("-h")) {
    io.out(sub.usage);
    return 0;
  }
  try {
    return await sub.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(error.message);
      io.err("");
      io.err(sub.usage);
      return 2;
    }
    io.err(errorMessage(error));
    return error instanceof PlantgateError && error.code === "config_invalid" ? 2 : 1;
  }
}

/** Throws a {@linkcode UsageError} when a subcommand got arguments it does not take. */
export function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
}

/** An open buffer, with the config it came from when one was read. Dispose to close. */
export interface Target extends Disposable {
  buffer: Buffer;
  config?: EdgeConfig;
  /** The file did not exist and was created (`create` option). */
  created: boolean;
}

const UNSET = "(not needed by the CLI: unset ";

/**
 * The environment the config is loaded with. The commands need no secrets (the central `dlq`
 * only NATS's: {@linkcode unsetVariable}), and an operator's shell usually lacks the service's
 * (systemd passes them only to the service), so missing variables read as a placeholder
 * instead of failing. STATE_DIRECTORY stays real: it decides
 * where a relative buffer.path points.
 */
export function cliEnv(): Record<string, string | undefined> {
  const env = Deno.env.toObject();
  return new Proxy(env, {
    get: (target, key) =>
      typeof key === "string" && key !== "STATE_DIRECTORY"
        ? target[key] ?? `${UNSET}${key})`
        : Reflect.get(target, key),
  });
}

/**
 * The variable a secret read through {@linkcode cliEnv} came from when it was not set, else
 * undefined: for the secrets a command does need (NATS credentials to read central streams).
 */
export function unsetVariable(secret: string | undefined): string | undefined {
  return secret?.startsWith(UNSET) ? secret.slice(UNSET.length, -1) : undefined;
}

function fileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens the buffer of `--buffer`, or of the config's `buffer.path`. The config is read when
 * there is no `--buffer`, when `-c` is given, or when `needConfig` (plugins for replay). A
 * missing buffer file is an error (exit 2) unless `create`: opening would silently create an
 * empty one and report nothing to do.
 */
export async function openTarget(
  flags: { config?: string; buffer?: string },
  options: { needConfig?: boolean; create?: boolean } = {},
): Promise<Target> {
  const readConfig = !flags.buffer || flags.config !== undefined || options.needConfig;
  const configPath = flags.config ?? DEFAULT_CONFIG;
  const config = readConfig ? await loadEdgeConfig(configPath, { env: cliEnv() }) : undefined;
  const path = flags.buffer ?? config!.buffer.path;
  const exists = fileExists(path);
  if (!exists && !options.create) {
    const from = flags.buffer ? "--buffer" : `buffer.path in ${configPath}`;
    const hint = !flags.buffer && !Deno.env.get("STATE_DIRECTORY")
      ? ". A relative buffer.path resolves against $STATE_DIRECTORY, which systemd sets for " +
        "the service (StateDirectory=, e.g. /var/lib/plantgate) but not for your shell: set " +
        "STATE_DIRECTORY or pass --buffer <file>"
      : "";
    throw new PlantgateError("config_invalid", `No buffer file at "${path}" (${from})${hint}`);
  }
  const buffer = Buffer.open(path, {
    maxBytes: config?.buffer.maxBytes,
    dedupeWindowMs: config && config.buffer.dedupeWindowHours * 3600_000,
  });
  return { buffer, config, created: !exists, [Symbol.dispose]: () => buffer.close() };
}

const DURATION_UNITS = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const;

/** `45s`, `3m 12s`, `1h 0m`, `4d 3h`: the two largest units of a duration. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const i = DURATION_UNITS.findIndex(([, size]) => total >= size);
  if (i === -1 || i === DURATION_UNITS.length - 1) return `${total}s`;
  const [[big, bigSize], [small, smallSize]] = [DURATION_UNITS[i], DURATION_UNITS[i + 1]];
  return `${Math.floor(total / bigSize)}${big} ${
    Math.floor((total % bigSize) / smallSize)
  }${small}`;
}

/** `512 B`, `1.5 KiB`, `2.3 MiB`, `1.0 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(1)} ${units[i]}`;
}

/** Cuts `text` to one line of at most `width` characters, ending in `…` when cut. */
export function truncate(text: string, width: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= width ? line : line.slice(0, width - 1) + "…";
}

/** The first `limit` items (a page of a listing), and whether there are more. */
export async function firstPage<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
): Promise<{ rows: T[]; more: boolean }> {
  const rows: T[] = [];
  for await (const item of items) {
    if (rows.length === limit) return { rows, more: true };
    rows.push(item);
  }
  return { rows, more: false };
}

/** Aligns rows under headers, two spaces between columns; the last column is not padded. */
export function formatTable(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  return all.map((r) =>
    r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c])).join("  ").trimEnd()
  ).join("\n");
}

/** ISO time of a ms timestamp, or `-` for null. */
export function isoOrDash(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString();
}

/** `xxd`-style dump: offset, 16 bytes in hex, printable ASCII. */
function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.byteLength; at += 16) {
    const row = [...bytes.subarray(at, at + 16)];
    const hex = row.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines.join("\n");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The bytes as text, or undefined when they are not valid UTF-8. */
export function utf8Text(raw: Uint8Array): string | undefined {
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

/** The bytes for reading: pretty JSON, text, or a hex dump, with what it is. */
export function renderRaw(raw: Uint8Array): { kind: string; text: string } {
  const text = utf8Text(raw);
  if (text === undefined) return { kind: "not UTF-8, hex dump", text: hexDump(raw) };
  try {
    return { kind: "JSON, pretty-printed", text: JSON.stringify(JSON.parse(text), null, 2) };
  } catch {
    return { kind: "UTF-8 text", text };
  }
}

/** The bytes in base64, for JSON output. */
export function base64(bytes: Uint8Array): string {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}
