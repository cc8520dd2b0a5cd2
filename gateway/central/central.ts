/**
 * The central role: creates or updates the JetStream streams, migrates the database, runs the
 * lot orchestrator and serves `/healthz`, `/readyz`, `/metrics` and the lot queries
 * (`GET /lots/<id>`, `GET /lots/<id>/trace?direction=back|forward&depth=N[&format=csv]`), the
 * outbox relay (commands to the plants, transfer saga timeouts) with the saga queries
 * (`GET /sagas?state=...`, `GET /sagas/<id or shipment reference>`), and the MES lot feed.
 *
 * @module
 */
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { backoffDelay } from "../core/backoff.ts";
import type { CentralConfig } from "../core/central_config.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Poller } from "../core/poller.ts";
import { parseListen } from "../edge/http.ts";
import { connectNats, ensureStreams } from "../io/jetstream.ts";
import { MqttPublisher } from "../io/mqtt_publisher.ts";
import { connectPostgres, type Sql } from "../io/postgres.ts";
import { connectRedis, type Redis } from "../io/redis.ts";
import { RedisJobStore } from "./jobs/dao.ts";
import { dcsRunCommands, resendPendingRuns } from "./jobs/dcs_commands.ts";
import { DcsEventConsumer, ensureDcsEventsConsumer, redisEventLedger } from "./jobs/dcs_events.ts";
import { JobsProcessor, redisAnswerCache } from "./jobs/processor.ts";
import { lotFeedPublisher, markLotFeed } from "./lot_feed.ts";
import { ensureOrchestratorConsumer, Orchestrator, OrchestratorMetrics } from "./orchestrator.ts";
import { driftByPlant, latestRuns, reconciliationSteps } from "./reconciliation.ts";
import { outboxRelay } from "./relay.ts";
import { countSagas, findSagas, listSagas, type SagaState, transferSteps } from "./saga.ts";
import { migrate } from "./schema.ts";
import { type Direction, lotView, resolveLot, traceCsv, traceLot } from "./trace.ts";

/** How often Run commands of jobs still AllowedToStart are sent again. */
const RUN_RESEND_MS = 60_000;

/** Event types whose application may put commands into the outbox. */
const COMMAND_EVENTS: ReadonlySet<string> = new Set([
  "LOT_SHIPPED",
  "COMMAND_REJECTED",
  "LOT_STOCK_REPORTED",
]);

/** What `/readyz` reports. */
export interface CentralHealth {
  ready: boolean;
  databaseReachable: boolean;
  natsConnected: boolean;
  /** Events in LOT_EVENTS not yet delivered to the orchestrator (last reading). */
  pendingEvents: number | null;
}

/** Connects to the central database, retrying until it answers or `signal` aborts. */
export async function connectDatabase(
  config: CentralConfig["postgres"],
  log: Logger,
  signal?: AbortSignal,
): Promise<Sql> {
  const sql = connectPostgres({ ...config, max: config.maxConnections });
  for (let attempt = 0;; attempt++) {
    try {
      await sql`SELECT 1`;
      return sql;
    } catch (error) {
      if (signal?.aborted) {
        await sql.end();
        throw error;
      }
      if (attempt === 0) {
        log.warn("Cannot reach PostgreSQL yet; retrying", {
          code: "apply_failed",
          host: config.host,
          port: config.port,
          database: config.database,
          error: errorMessage(error),
        });
      }
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, { maxMs: 5000 })));
    }
  }
}

/** The running central role. */
export class Central {
  readonly metrics = new OrchestratorMetrics();
  readonly #config: CentralConfig;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #sql: Sql | undefined;
  #nc: NatsConnection | undefined;
  #orchestrator: Orchestrator | undefined;
  #relay: Poller | undefined;
  #mqtt: MqttPublisher | undefined;
  #feed: Poller | undefined;
  #sagas: Record<SagaState, number> | undefined;
  #drift = new Map<string, number>();
  #jobs:
    | {
      processor: JobsProcessor;
      dcs: DcsEventConsumer;
      redis: Redis;
      resend: ReturnType<typeof setInterval>;
    }
    | undefined;
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #natsConnected = false;
  #databaseReachable = false;
  #pending: number | null = null;
  #monitor: ReturnType<typeof setInterval> | undefined;

  constructor(config: CentralConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.metrics.registry.gauge(
      "plantgate_central_pending_events",
      "Events in LOT_EVENTS not yet delivered to the orchestrator (event lag).",
      () => this.#pending ?? 0,
    );
    this.metrics.registry.gauge(
      "plantgate_central_transfers_open",
      "Transfer sagas waiting for the target ERP's answer.",
      () => this.#sagas?.commanded ?? 0,
    );
    this.metrics.registry.gauge(
      "plantgate_central_transfers_compensation_failed",
      "Transfer sagas whose compensation the source ERP rejected (resolve by hand).",
      () => this.#sagas?.compensation_failed ?? 0,
    );
    this.metrics.registry.gaugeSet(
      "plantgate_central_drift_lots",
      "Lots on which an ERP and the centre differ, per plant (latest reconciliation run).",
      () => [...this.#drift].map(([plant, n]) => [{ plant }, n]),
    );
  }

  /** The HTTP address, once listening. */
  get httpAddress(): Deno.NetAddr | undefined {
    return this.#http?.addr;
  }

  /** Starts everything; resolves once the orchestrator pulls. */
  async start(): Promise<void> {
    const config = this.#config;
    if (config.http.listen !== false) this.#serve(config.http.listen);
    this.#sql = await connectDatabase(config.postgres, this.#log, this.#abort.signal);
    this.#databaseReachable = true;
    const applied = await migrate(this.#sql);
    if (applied.length > 0) this.#log.info("Database migrated", { versions: applied });
    this.#nc = await connectNats({
      ...config.nats,
      log: this.#log.child({ component: "nats" }),
      signal: this.#abort.signal,
      onStatus: (up) => this.#natsConnected = up,
    });
    this.#natsConnected = true;
    const jsm = await jetstreamManager(this.#nc);
    await ensureStreams(jsm);
    await ensureOrchestratorConsumer(jsm, config.orchestrator);
    const js = jetstream(this.#nc);
    const relay = outboxRelay(this.#sql, js, {
      ...config.outbox,
      reconciliation: config.reconciliation,
      log: this.#log.child({ component: "outbox" }),
      metrics: this.metrics,
    });
    this.#relay = relay;
    if (config.mes.url !== false) {
      const log = this.#log.child({ component: "lot-feed" });
      this.#mqtt = new MqttPublisher({ ...config.mes, url: config.mes.url, log });
      this.#feed = lotFeedPublisher(this.#sql, this.#mqtt, {
        ...config.mes.lotFeed,
        log,
        metrics: this.metrics,
      });
    }
    const feed = this.#feed;
    const sagaSteps = transferSteps(config.transfers, this.#log.child({ component: "sagas" }));
    const reconcileSteps = reconciliationSteps(
      config.reconciliation,
      this.#log.child({ component: "reconciliation" }),
    );
    this.#orchestrator = new Orchestrator(this.#sql, js, {
      ...config.orchestrator,
      log: this.#log.child({ component: "orchestrator" }),
      metrics: this.metrics,
      onApplied: async (tx, applied) => {
        await sagaSteps(tx, applied);
        await reconcileSteps(tx, applied);
        if (feed) await markLotFeed(tx, applied);
      },
      afterCommit: (applied) => {
        if (applied.some((e) => COMMAND_EVENTS.has(e.eventType))) relay.notify();
        feed?.notify();
      },
    });
    relay.start();
    feed?.start();
    this.#orchestrator.start();
    if (config.jobs.processor.enabled) await this.#startJobs(jsm, js);
    this.#monitor = setInterval(() => this.#check(jsm), 5000);
    this.#log.info("Central started", { consumer: config.orchestrator.consumer });
  }

  /** Stops pulling, finishes the events in progress, closes everything. */
  async stop(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#monitor);
    await this.#orchestrator?.stop();
    clearInterval(this.#jobs?.resend);
    await this.#jobs?.processor.stop();
    await this.#jobs?.dcs.stop();
    this.#jobs?.redis.disconnect();
    await this.#relay?.stop();
    await this.#feed?.stop();
    await this.#mqtt?.close();
    await this.#nc?.close();
    await this.#http?.shutdown();
    await this.#sql?.end();
    this.#log.info("Central stopped");
  }

  /**
   * Starts the MES method-call processor (Run commands to the DCS on start) and the DCS event
   * consumer on the job store (`jobs.processor.enabled`).
   */
  async #startJobs(jsm: JetStreamManager, js: JetStreamClient): Promise<void> {
    const { jobs } = this.#config;
    const log = this.#log.child({ component: "jobs" });
    const redis = await connectRedis({ ...jobs.redis, name: "plantgate-central-jobs", log });
    const store = new RedisJobStore(redis);
    const processor = new JobsProcessor(store, redisAnswerCache(redis), {
      ...jobs.processor,
      url: jobs.mqtt.url,
      username: jobs.mqtt.username,
      password: jobs.mqtt.password,
      prefix: jobs.prefix,
      onTransition: dcsRunCommands(js, { scopes: jobs.scopes, log }),
      log,
    });
    const ackWaitSeconds = this.#config.orchestrator.ackWaitSeconds;
    await ensureDcsEventsConsumer(jsm, ackWaitSeconds);
    const dcs = new DcsEventConsumer(js, {
      store,
      ledger: redisEventLedger(redis, {
        ttlSeconds: jobs.processor.dcsEventTtlSeconds,
        claimSeconds: ackWaitSeconds,
      }),
    }, { backoff: this.#config.orchestrator.backoff, log: log.child({ stage: "dcs-events" }) });
    // Run commands lost to a crash or a failed publish are sent again (same command id).
    const runs = { scopes: jobs.scopes, log };
    const resendRuns = () =>
      resendPendingRuns(store, js, runs).catch((error) =>
        log.warn("Cannot resend pending Run commands", { error: errorMessage(error) })
      );
    const resend = setInterval(resendRuns, RUN_RESEND_MS);
    this.#jobs = { processor, dcs, redis, resend };
    await processor.start();
    dcs.start();
    await resendRuns();
  }

  /** What `/readyz` answers. */
  health(): CentralHealth {
    return {
      ready: this.#databaseReachable && this.#natsConnected && this.#orchestrator !== undefined,
      databaseReachable: this.#databaseReachable,
      natsConnected: this.#natsConnected,
      pendingEvents: this.#pending,
    };
  }

  async #check(jsm: Awaited<ReturnType<typeof jetstreamManager>>): Promise<void> {
    try {
      await this.#sql!`SELECT 1`;
      this.#databaseReachable = true;
    } catch {
      this.#databaseReachable = false;
    }
    try {
      this.#sagas = await countSagas(this.#sql!);
      this.#drift = await driftByPlant(this.#sql!);
    } catch { /* database down: keep the last reading */ }
    try {
      const info = await jsm.consumers.info("LOT_EVENTS", this.#config.orchestrator.consumer);
      this.#pending = info.num_pending;
    } catch { /* NATS down: keep the last reading */ }
  }

  #serve(listen: string): void {
    const { hostname, port } = parseListen(listen);
    this.#http = Deno.serve({
      hostname,
      port,
      onListen: (a) => this.#log.info("HTTP listening", { address: `${a.hostname}:${a.port}` }),
    }, (request) => this.#route(request));
  }

  async #route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    if (url.pathname === "/healthz") return Response.json({ status: "ok" });
    if (url.pathname === "/readyz") {
      const health = this.health();
      return Response.json(health, { status: health.ready ? 200 : 503 });
    }
    if (url.pathname === "/metrics") {
      return new Response(this.metrics.registry.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (!this.#sql) return new Response("database not connected yet\n", { status: 503 });
    if (url.pathname === "/sagas" || url.pathname.startsWith("/sagas/")) {
      return await this.#sagaRoute(this.#sql, url);
    }
    if (url.pathname === "/reconciliation") {
      return Response.json({
        runs: await latestRuns(this.#sql, {
          plantId: url.searchParams.get("plant") ?? undefined,
          system: url.searchParams.get("system") ?? undefined,
        }),
      });
    }
    const m = /^\/lots\/([^/]+)(\/trace)?$/.exec(url.pathname);
    if (!m) {
      return new Response(
        "not found: try /healthz, /readyz, /metrics, /lots/<id>, /lots/<id>/trace, /sagas, " +
          "/reconciliation\n",
        { status: 404 },
      );
    }
    const id = decodeURIComponent(m[1]);
    const canonical = await resolveLot(this.#sql, id);
    if (!canonical) {
      return Response.json({
        error: `unknown lot "${id}" (give a canonical lot id or plant:system:lot)`,
      }, { status: 404 });
    }
    if (!m[2]) return Response.json(await lotView(this.#sql, canonical));
    const direction = url.searchParams.get("direction") ?? "back";
    const depth = Number(url.searchParams.get("depth") ?? "1");
    if (!["back", "forward"].includes(direction) || !Number.isInteger(depth) || depth < 1) {
      return Response.json({
        error: "direction must be back or forward, depth a whole number >= 1",
      }, { status: 400 });
    }
    const steps = await traceLot(this.#sql, canonical, {
      direction: direction as Direction,
      depth: Math.min(depth, 100),
    });
    if (url.searchParams.get("format") === "csv") {
      return new Response(traceCsv(steps), {
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="trace-${canonical}-${direction}.csv"`,
        },
      });
    }
    return Response.json({ lot: await lotView(this.#sql, canonical), direction, depth, steps });
  }

  /** `GET /sagas?state=&limit=` and `GET /sagas/<saga id or shipment reference>`. */
  async #sagaRoute(sql: Sql, url: URL): Promise<Response> {
    if (url.pathname !== "/sagas") {
      const id = decodeURIComponent(url.pathname.slice("/sagas/".length));
      const sagas = await findSagas(sql, id);
      if (sagas.length === 0) {
        return Response.json({ error: `no transfer saga "${id}"` }, { status: 404 });
      }
      return Response.json({ sagas });
    }
    const state = url.searchParams.get("state") ?? undefined;
    const limit = Number(url.searchParams.get("limit") ?? "100");
    const states = ["commanded", "completed", "compensated", "compensation_failed"];
    if (state !== undefined && !states.includes(state)) {
      return Response.json({ error: `state must be one of ${states.join(", ")}` }, {
        status: 400,
      });
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      return Response.json({ error: "limit must be a whole number from 1 to 10000" }, {
        status: 400,
      });
    }
    return Response.json({
      sagas: await listSagas(sql, { state: state as SagaState | undefined, limit }),
    });
  }
}
