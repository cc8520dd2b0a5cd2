import { Ajv } from "ajv";
import { dirname, resolve } from "node:path";
import schema from "../../config/central.schema.json" with { type: "json" };
import {
  type ConfigProblem,
  loadYamlConfig,
  type NatsSettings,
  secret,
  throwProblems,
} from "./config.ts";

/** The central configuration after validation, defaults and secret resolution. */
export interface CentralConfig {
  nats: NatsSettings;
  postgres: {
    host: string;
    port: number;
    database: string;
    user: string;
    /** Resolved from passwordEnv/passwordFile. */
    password?: string;
    maxConnections: number;
  };
  orchestrator: {
    /** Durable consumer name, the same for every replica. */
    consumer: string;
    /** Transactions in flight at once in this replica. */
    concurrency: number;
    /** Events applied in one transaction at most. */
    batchSize: number;
    maxDeliver: number;
    ackWaitSeconds: number;
    backoff: { initialMs: number; maxMs: number };
    sourcePriority: Record<string, number>;
  };
  transfers: {
    /** Plant id -> the system that receives that plant's inbound transfers. */
    targets: Record<string, string>;
    /** How long the target ERP has to report the receipt. */
    timeoutSeconds: number;
  };
  reconciliation: {
    /** 0 = only on request. */
    intervalSeconds: number;
    timeoutSeconds: number;
    correct: "missing_in_erp"[];
  };
  outbox: { pollMs: number; batchSize: number };
  mes: {
    url: string | false;
    clientId: string;
    username?: string;
    /** Resolved from passwordEnv/passwordFile. */
    password?: string;
    lotFeed: { topicPrefix: string; expirySeconds: number; pollMs: number; batchSize: number };
  };
  /** The MES job publisher (`main.ts publisher`). */
  jobs: JobsSettings;
  http: { listen: string | false };
  log: { level: "debug" | "info" | "warn" | "error" };
}

/** The `jobs` section: where the job publisher reads (Redis) and writes (MQTT), and how. */
export interface JobsSettings {
  redis: {
    /** `redis://host:port[/db]`. */
    url: string;
    /** Resolved from passwordEnv/passwordFile. */
    password?: string;
  };
  mqtt: {
    url: string;
    clientId: string;
    username?: string;
    /** Resolved from passwordEnv/passwordFile. */
    password?: string;
  };
  /** Topic prefix, default `app/jobs`. */
  prefix: string;
  /** MQTT v5 Message Expiry Interval of the retained topics. */
  retainedTtlSeconds: number;
  /** XREAD COUNT. */
  streamReadCount: number;
  /** XREAD BLOCK, ms. */
  streamBlockMs: number;
  /** Scope -> the plant whose DCS runs it (where Run commands go). */
  scopes: Record<string, string>;
  /** The MES method-call and DCS event processor in the central role. */
  processor: {
    enabled: boolean;
    clientId: string;
    answerTtlSeconds: number;
    source: string;
    /** How long applied DCS event ids are kept. */
    dcsEventTtlSeconds: number;
  };
}

/** The configuration an empty file gives: every default (for tests and tools). */
export function centralDefaults(): CentralConfig {
  const value: Record<string, unknown> = {};
  new Ajv({ useDefaults: true, strict: false }).compile(schema)(value);
  return value as unknown as CentralConfig;
}

/**
 * Loads and validates a central config file. Throws one `config_invalid` error that lists every
 * problem as `file:line:col: key: what was expected`.
 */
export async function loadCentralConfig(
  file: string,
  options: { env?: Record<string, string | undefined> } = {},
): Promise<CentralConfig> {
  const env = options.env ?? Deno.env.toObject();
  const { value, source } = await loadYamlConfig(file, schema);
  const raw = value as Record<string, Record<string, unknown>>;
  const problems: ConfigProblem[] = [];
  const ctx = { source, env, base: dirname(resolve(file)), problems };
  const natsPassword = secret(raw.nats, "nats", "password", ctx);
  if (natsPassword !== undefined) raw.nats.password = natsPassword;
  const token = secret(raw.nats, "nats", "token", ctx);
  if (token !== undefined) raw.nats.token = token;
  const pgPassword = secret(raw.postgres, "postgres", "password", ctx);
  if (pgPassword !== undefined) raw.postgres.password = pgPassword;
  const mesPassword = secret(raw.mes, "mes", "password", ctx);
  if (mesPassword !== undefined) raw.mes.password = mesPassword;
  for (const section of ["redis", "mqtt"]) {
    const password = nestedSecret(raw.jobs, ["jobs", section], ctx);
    if (password !== undefined) (raw.jobs[section] as Record<string, unknown>).password = password;
  }
  const backoff = raw.orchestrator.backoff as { initialMs: number; maxMs: number };
  if (backoff.initialMs > backoff.maxMs) {
    problems.push(
      source.problem(["orchestrator", "backoff", "initialMs"], "must not be larger than maxMs"),
    );
  }
  if (problems.length > 0) throwProblems(file, problems);
  return raw as unknown as CentralConfig;
}

/**
 * {@linkcode secret} for the password of a section two levels down (`jobs.redis`): its problems
 * are located at the full key path.
 */
function nestedSecret(
  parent: Record<string, unknown>,
  [outer, inner]: [string, string],
  ctx: Parameters<typeof secret>[3],
): string | undefined {
  const problems: ConfigProblem[] = [];
  const value = secret(parent[inner] as Record<string, unknown>, inner, "password", {
    ...ctx,
    problems,
  });
  for (const p of problems) {
    ctx.problems.push(ctx.source.problem([outer, ...p.path.split(".")], p.message));
  }
  return value;
}
