/**
 * Stable error codes. Every error or drop in plantgate is one log line plus one counter
 * labelled with one of these codes and the stage it happened in. Operators alert on them,
 * so codes are never renamed; new ones are only added.
 */
export const ERROR_CODES = {
  /** A message is not valid UTF-8. */
  invalid_utf8: { retryable: false },
  /** A message is not valid JSON. */
  invalid_json: { retryable: false },
  /** A message is larger than `ingest.maxPayloadBytes`. */
  payload_too_large: { retryable: false },
  /** A plugin could not make sense of a native message (missing field, wrong type, ...). */
  plugin_invalid_payload: { retryable: false },
  /** A native document type or movement type that the plugin does not map. */
  plugin_unsupported: { retryable: false },
  /** A plugin threw something that is not a PluginError: a plugin bug. */
  plugin_crashed: { retryable: false },
  /** A plugin produced an event that fails the canonical schema. */
  event_invalid: { retryable: false },
  /** No source in the configuration matches the topic a message arrived on. */
  no_source_for_topic: { retryable: false },
  /** The buffer reached `buffer.maxBytes`; ingest stops acknowledging. */
  buffer_full: { retryable: true },
  /** The disk or quota under the buffer is full (SQLITE_FULL). */
  disk_full: { retryable: true },
  /** Any other SQLite failure while writing the buffer. */
  buffer_write_failed: { retryable: true },
  /** JetStream did not acknowledge a publish (timeout, connection loss). */
  forward_failed: { retryable: true },
  /** The target stream does not exist (the central role creates it). */
  stream_not_found: { retryable: true },
  /** The local MQTT broker connection failed or dropped. */
  mqtt_connection: { retryable: true },
  /** The NATS connection failed or dropped. */
  nats_connection: { retryable: true },
  /** The Redis connection (job store) failed or dropped. */
  redis_connection: { retryable: true },
  /** A configuration file is invalid. */
  config_invalid: { retryable: false },
  /** A plugin could not be loaded or is not a valid plugin. */
  plugin_load_failed: { retryable: false },
  /** A command could not be encoded for the plant ERP. */
  command_unsupported: { retryable: false },
  /** A DCS reported a job transition the state machine refuses (kept in `jobs:refused`). */
  job_transition_refused: { retryable: false },
  /** The central database could not apply an event (connection lost, timeout, conflict). */
  apply_failed: { retryable: true },
} as const;

/** One of the stable error codes in {@linkcode ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Where in the data flow an error happened; the `stage` label of error metrics. */
export type Stage =
  | "ingest"
  | "decode"
  | "validate"
  | "buffer"
  | "forward"
  | "downlink"
  | "apply"
  | "config"
  | "plugin";

/** Options of {@linkcode PlantgateError}. */
export interface PlantgateErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** Override the code's default retryability. */
  retryable?: boolean;
}

/** An error with a stable code, a retryable flag and a cause. */
export class PlantgateError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: PlantgateErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "PlantgateError";
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }
}

/**
 * The error a plugin throws for a native message it cannot decode. The runtime turns it into
 * a dead letter with the code given here (default `plugin_invalid_payload`).
 */
export class PluginError extends PlantgateError {
  /** Path of the offending field in the native message, e.g. `E1MBGMCR.E1BP2017_GM_ITEM_CREATE[0].ENTRY_QNT`. */
  readonly field?: string;

  constructor(
    message: string,
    options: {
      field?: string;
      code?: "plugin_invalid_payload" | "plugin_unsupported" | "command_unsupported";
      cause?: unknown;
    } = {},
  ) {
    super(options.code ?? "plugin_invalid_payload", message, { cause: options.cause });
    this.name = "PluginError";
    this.field = options.field;
  }
}

/** Message of any thrown value, for log lines and dead letters. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
