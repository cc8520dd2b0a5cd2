/**
 * The `main.ts publisher` role: connects to the job store's Redis and the MES broker from the
 * central config's `jobs` section and runs the {@linkcode JobPublisher}. One process at a time
 * (seed 003: a restart is far shorter than the outages the retained topics already cover).
 *
 * @module
 */
import { backoffDelay } from "../../core/backoff.ts";
import type { JobsSettings } from "../../core/central_config.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { MqttPublisher } from "../../io/mqtt_publisher.ts";
import { connectRedis, redactRedisUrl, type Redis } from "../../io/redis.ts";
import { RedisJobStore } from "./dao.ts";
import { RedisChangeFeed } from "./publish_feed.ts";
import { JobPublisher } from "./publisher.ts";

/** The running publisher role: `start()` then `stop()` (idempotent). */
export class PublisherRole {
  readonly #config: JobsSettings;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #redis: Redis | undefined;
  #mqtt: MqttPublisher | undefined;
  #publisher: JobPublisher | undefined;
  #starting: Promise<void> | undefined;

  constructor(config: JobsSettings, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  /** The publisher, once started. */
  get publisher(): JobPublisher | undefined {
    return this.#publisher;
  }

  /**
   * Connects (retrying until Redis answers or stop() is called) and starts publishing; resolves
   * once the start-up publishes are done.
   */
  async start(): Promise<void> {
    this.#starting ??= this.#start();
    await this.#starting;
  }

  async #start(): Promise<void> {
    const config = this.#config;
    this.#redis = await this.#connectRedis();
    if (!this.#redis || this.#abort.signal.aborted) return;
    this.#mqtt = new MqttPublisher({
      url: config.mqtt.url,
      clientId: config.mqtt.clientId,
      username: config.mqtt.username,
      password: config.mqtt.password,
      log: this.#log.child({ component: "mqtt" }),
    });
    this.#publisher = new JobPublisher({
      store: new RedisJobStore(this.#redis),
      feed: new RedisChangeFeed(this.#redis),
      mqtt: this.#mqtt,
    }, {
      prefix: config.prefix,
      retainedTtlSeconds: config.retainedTtlSeconds,
      streamReadCount: config.streamReadCount,
      streamBlockMs: config.streamBlockMs,
      log: this.#log,
    });
    await this.#publisher.start();
  }

  /** Stops after the entry in progress, then disconnects. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#publisher?.stop();
    await this.#starting?.catch(() => {});
    await this.#publisher?.stop();
    await this.#mqtt?.close();
    this.#mqtt = undefined;
    this.#redis?.disconnect();
    this.#redis = undefined;
    this.#log.info("Job publisher stopped");
  }

  async #connectRedis(): Promise<Redis | undefined> {
    const { url, password } = this.#config.redis;
    for (let attempt = 0; !this.#abort.signal.aborted; attempt++) {
      try {
        return await connectRedis({
          url,
          password,
          name: "plantgate-publisher",
          log: this.#log.child({ component: "redis" }),
        });
      } catch (error) {
        if (attempt === 0) {
          this.#log.warn("Cannot reach Redis yet; retrying", {
            code: "redis_connection",
            url: redactRedisUrl(url),
            error: errorMessage(error),
          });
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, { maxMs: 5000 })));
      }
    }
    return undefined;
  }
}
