/**
 * Redis connections (ioredis) for the central role: the jobs DAO and the publisher.
 *
 * @module
 */
import { Redis } from "ioredis";
import { backoffDelay } from "../core/backoff.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

export type { Redis };

/** Where Redis is and how to talk to it. */
export interface RedisConnectOptions {
  /** `redis://host:port[/db]`. A password belongs in `password`, not in the URL. */
  url: string;
  /** From an environment variable or a file, never from the YAML. Default: none. */
  password?: string;
  /** Connection state changes are logged here, once each. */
  log: Logger;
  /** Client name shown by `CLIENT LIST`. Default `plantgate`. */
  name?: string;
  /** How long the first connection may take, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * How long any command may wait for its reply, ms, whether Redis is up or not: a blocking
   * read must block for less. Default 10 000.
   */
  commandTimeoutMs?: number;
}

/** The URL with any password in it masked, for messages and log lines. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * Connects to Redis once and fails with an error naming the URL if that does not work (the
 * role's start() retries with backoff). Once connected, it reconnects forever with jittered
 * backoff (250 ms up to 5 s). A command issued while Redis is down waits for at most 3
 * reconnect attempts or `commandTimeoutMs`, then rejects so that its caller can nak and retry.
 *
 * A command in flight when the connection drops is sent again after the reconnect (ioredis's
 * default), so a write may be applied twice: writes must be idempotent, or tolerate that (a
 * job save then appends a second, identical change entry). Turning the resend off is worse:
 * ioredis 5 then never settles those commands (redis/ioredis#2193); the command timeout bounds
 * that and the other stuck cases.
 */
export async function connectRedis(options: RedisConnectOptions): Promise<Redis> {
  const where = redactRedisUrl(options.url);
  // No retries before the first connection: connect() fails at once and leaves nothing behind.
  let connected = false;
  const redis = new Redis(options.url, {
    connectionName: options.name ?? "plantgate",
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    keepAlive: 10_000,
    retryStrategy: (times) =>
      connected ? backoffDelay(times - 1, { initialMs: 250, maxMs: 5_000 }) : null,
    maxRetriesPerRequest: 3,
    commandTimeout: options.commandTimeoutMs ?? 10_000,
    // After a Sentinel failover the old primary answers writes with READONLY: reconnect (to the
    // new primary) and resend that command.
    reconnectOnError: (error) => error.message.startsWith("READONLY") ? 2 : false,
  });
  // Set after parsing: ioredis lets the URL win, and a URL with a user name and no password
  // says password "".
  if (options.password !== undefined) redis.options.password = options.password;
  // connect() rejects with "Connection is closed."; the reason is in the "error" event.
  let firstError: unknown;
  const remember = (error: unknown) => firstError ??= error;
  redis.on("error", remember);
  try {
    await redis.connect();
    connected = true;
  } catch (error) {
    if (redis.status !== "end") redis.disconnect();
    const cause = firstError ?? error;
    throw new Error(`Cannot connect to Redis at ${where}: ${errorMessage(cause)}`, { cause });
  }
  // Swapped, never left without one: ioredis prints unhandled "error" events to the console.
  watchStatus(redis, where, options.log);
  redis.off("error", remember);
  return redis;
}

/** One log line when the connection drops and one when it is back (not one per retry). */
function watchStatus(redis: Redis, where: string, log: Logger): void {
  let down = false;
  let lastError = "";
  redis.on("error", (error) => lastError = errorMessage(error));
  redis.on("reconnecting", () => {
    if (down) return;
    down = true;
    log.warn("Redis connection lost; reconnecting", {
      code: "redis_connection",
      url: where,
      error: lastError,
    });
  });
  redis.on("ready", () => {
    if (!down) return;
    down = false;
    log.info("Redis connection restored", { url: where });
  });
}
