/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger: one JSON object per line on stderr (journald keeps it as is). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Where lines go. Default: stderr. */
  write?: (line: string) => void;
  /** Clock. Default `() => new Date()`. */
  now?: () => Date;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Creates a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const now = options.now ?? (() => new Date());
  const log = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (LEVELS[level] < min) return;
    write(JSON.stringify({ time: now().toISOString(), level, msg, ...base, ...fields }, replacer));
  };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A logger that writes nothing (tests, plugin fixture runs). */
export const silentLogger: Logger = createLogger({ write: () => {} });
