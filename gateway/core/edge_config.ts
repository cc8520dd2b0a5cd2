import { dirname, isAbsolute, resolve } from "node:path";
import schema from "../../config/edge.schema.json" with { type: "json" };
import {
  type ConfigProblem,
  loadYamlConfig,
  type NatsSettings,
  parseByteSize,
  secret,
  throwProblems,
} from "./config.ts";
import { isTimeZone } from "./time.ts";

/** The edge configuration after validation, defaults, secret and path resolution. */
export interface EdgeConfig {
  plantId: string;
  timeZone: string;
  mqtt: {
    url: string;
    clientId: string;
    username?: string;
    /** Resolved from passwordEnv/passwordFile. */
    password?: string;
    sessionExpirySeconds: number;
    receiveMaximum: number;
    keepaliveSeconds: number;
  };
  nats: NatsSettings;
  sources: {
    topic: string;
    plugin: string;
    options: Record<string, unknown>;
    /** The `<system>` segment of the topic. */
    system: string;
  }[];
  /** Site plugins, absolute paths. */
  plugins: { path: string }[];
  buffer: {
    /** Absolute path. */
    path: string;
    maxBytes: number;
    warnAt: number[];
    fullPolicy: "reject_new";
    dedupeWindowHours: number;
  };
  ingest: { maxPayloadBytes: number; maxBatch: number };
  forwarder: {
    maxInFlight: number;
    publishTimeoutMs: number;
    backoff: { initialMs: number; maxMs: number };
  };
  downlink: {
    enabled: boolean;
    ackWaitSeconds: number;
    publishTimeoutMs: number;
    backoff: { initialMs: number; maxMs: number };
  };
  /** The DCS path; `scopes` empty = every scope. */
  dcs: { enabled: boolean; scopes: string[] };
  http: { listen: string | false };
  log: { level: "debug" | "info" | "warn" | "error" };
}

/** Where secrets and relative paths come from; defaults to the real environment. */
export interface EdgeConfigOptions {
  env?: Record<string, string | undefined>;
}

type Raw = Record<string, Record<string, unknown>> & { sources: Record<string, unknown>[] };

/**
 * Loads and validates an edge config file. Throws one `config_invalid` error that lists every
 * problem as `file:line:col: key: what was expected`.
 */
export async function loadEdgeConfig(
  file: string,
  options: EdgeConfigOptions = {},
): Promise<EdgeConfig> {
  const env = options.env ?? Deno.env.toObject();
  const { value, source } = await loadYamlConfig(file, schema);
  const raw = value as Raw;
  const base = dirname(resolve(file));
  const problems: ConfigProblem[] = [];
  const ctx = { source, env, base, problems };
  const plantId = raw.plantId as unknown as string;
  if (!isTimeZone(raw.timeZone as unknown as string)) {
    problems.push(
      source.problem(
        ["timeZone"],
        `"${raw.timeZone}" is not an IANA time zone (e.g. Europe/Berlin)`,
      ),
    );
  }
  const mqtt = raw.mqtt;
  mqtt.clientId ??= `plantgate-edge-${plantId}`;
  const mqttPassword = secret(mqtt, "mqtt", "password", ctx);
  if (mqttPassword !== undefined) mqtt.password = mqttPassword;
  const nats = raw.nats;
  nats.name ??= `plantgate-edge-${plantId}`;
  const natsPassword = secret(nats, "nats", "password", ctx);
  if (natsPassword !== undefined) nats.password = natsPassword;
  const token = secret(nats, "nats", "token", ctx);
  if (token !== undefined) nats.token = token;
  const topic = new RegExp(
    `^plant/${plantId.replace(/[-]/g, "\\-")}/erp/([A-Za-z0-9_-]+)/lot/events$`,
  );
  const topics = new Set<string>();
  raw.sources.forEach((s, i) => {
    const m = topic.exec(String(s.topic));
    if (!m) {
      problems.push(
        source.problem(
          ["sources", i, "topic"],
          `must be plant/${plantId}/erp/<system>/lot/events (plantId is "${plantId}"), got "${s.topic}"`,
        ),
      );
    } else {
      s.system = m[1];
    }
    if (topics.has(String(s.topic))) {
      problems.push(source.problem(["sources", i, "topic"], "is configured twice"));
    }
    topics.add(String(s.topic));
  });
  const plugins = raw.plugins as unknown as { path: string }[];
  plugins.forEach((p, i) => {
    p.path = resolve(base, p.path);
    try {
      Deno.statSync(p.path);
    } catch {
      problems.push(
        source.problem(["plugins", i, "path"], `plugin file "${p.path}" does not exist`),
      );
    }
  });
  const buffer = raw.buffer;
  const bufferPath = String(buffer.path);
  buffer.path = isAbsolute(bufferPath)
    ? bufferPath
    : resolve(env.STATE_DIRECTORY ?? base, bufferPath);
  buffer.maxBytes = parseByteSize(buffer.maxBytes as number | string);
  raw.ingest.maxPayloadBytes = parseByteSize(raw.ingest.maxPayloadBytes as number | string);
  if ((raw.ingest.maxPayloadBytes as number) >= (buffer.maxBytes as number)) {
    problems.push(
      source.problem(["ingest", "maxPayloadBytes"], "must be smaller than buffer.maxBytes"),
    );
  }
  const backoff = (raw.forwarder as { backoff: { initialMs: number; maxMs: number } }).backoff;
  if (backoff.initialMs > backoff.maxMs) {
    problems.push(
      source.problem(["forwarder", "backoff", "initialMs"], "must not be larger than maxMs"),
    );
  }
  if (problems.length > 0) throwProblems(file, problems);
  return raw as unknown as EdgeConfig;
}
