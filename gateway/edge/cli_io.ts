import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { loadEdgeConfig } from "../core/edge_config.ts";
import { PlantgateError } from "../core/errors.ts";
import { Buffer } from "./buffer.ts";

/** Where a command writes: injectable for tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Raw bytes to stdout (dlq show --raw). */
  raw(bytes: Uint8Array): void;
}

const encoder = new TextEncoder();

/** Standard output and error. */
export const stdio: CliIo = {
  out: (line) => Deno.stdout.writeSync(encoder.encode(line + "\n")),
  err: (line) => Deno.stderr.writeSync(encoder.encode(line + "\n")),
  raw: (bytes) => Deno.stdout.writeSync(bytes),
};

/** A usage problem: the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

/** Options every buffer/dlq command takes. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  config: { type: "string", short: "c" },
  buffer: { type: "string" },
  json: { type: "boolean" },
} as const satisfies ParseArgsOptionsConfig;

/** Parses flags strictly; unknown flags become a UsageError naming the flag. */
export function parseFlags<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Opens the buffer named by --buffer, or the one of the config (-c, default /etc/plantgate/edge.yaml). */
export async function openBuffer(values: { config?: string; buffer?: string }): Promise<Buffer> {
  const path = values.buffer ??
    (await loadEdgeConfig(values.config ?? "/etc/plantgate/edge.yaml")).buffer.path;
  try {
    Deno.statSync(path);
  } catch {
    throw new PlantgateError("buffer_write_failed", `No buffer at "${path}"`);
  }
  return Buffer.open(path);
}

/** A positive integer flag, or a UsageError naming it. */
export function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  }
  return n;
}

/** "3m 12s" style age. */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Left-aligned text table. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Runs a subcommand table with usage handling and exit codes (0 ok, 1 failure, 2 usage). */
export async function runSubcommands(
  args: string[],
  usage: string,
  subcommands: Record<string, (args: string[], io: CliIo) => Promise<number>>,
  io: CliIo,
): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === "--help" || sub === "-h") {
    (sub ? io.out : io.err)(usage);
    return sub ? 0 : 2;
  }
  const run = subcommands[sub];
  if (!run) {
    io.err(`Unknown subcommand "${sub}".\n\n${usage}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(usage);
    return 0;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${usage}`);
      return 2;
    }
    if (error instanceof PlantgateError) {
      io.err(error.message);
      return error.code === "config_invalid" ? 2 : 1;
    }
    throw error;
  }
}
