/**
 * The DCS path end to end: the MES's StoreAndStart (a CloudEvent on the central broker) makes
 * the job AllowedToStart -> the processor sends Run to JOB_COMMANDS -> the plant's edge (a real
 * child process) delivers it to the DCS's commands topic -> the simulated DCS runs the job and
 * reports Running, then its response with Ended -> the events go through the edge's fsync'd
 * buffer to JOB_EVENTS -> the DCS event consumer applies them to the Redis store -> the
 * publisher retains the result for the MES. Private Mosquitto (plant and central topics on one
 * broker), NATS and Redis.
 *
 * @module
 */
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { RedisJobStore } from "../gateway/central/jobs/dao.ts";
import { dcsRunCommands } from "../gateway/central/jobs/dcs_commands.ts";
import {
  DcsEventConsumer,
  type DcsOutcome,
  ensureDcsEventsConsumer,
  redisEventLedger,
} from "../gateway/central/jobs/dcs_events.ts";
import {
  JobsProcessor,
  methodCallMessage,
  redisAnswerCache,
} from "../gateway/central/jobs/processor.ts";
import { JOB_TOPICS } from "../gateway/central/jobs/store.ts";
import { PublisherRole } from "../gateway/central/jobs/publish_role.ts";
import { centralDefaults } from "../gateway/core/central_config.ts";
import { silentLogger } from "../gateway/core/logger.ts";
import { ensureStreams } from "../gateway/io/jetstream.ts";
import { connectRedis } from "../gateway/io/redis.ts";
import { DcsSimulator } from "../gateway/sim/dcs_simulator.ts";
import { startEdgeProcess } from "../gateway/sim/edge_process.ts";
import { startMosquitto, startNats, startRedis } from "../gateway/sim/servers.ts";
import { integrationTest, waitFor } from "./_integration.ts";

const until = <T>(check: () => Promise<T | undefined | false>, what: string, ms = 30_000) =>
  waitFor(check, what, ms);

const SCOPE = "press-7";

integrationTest(
  "a job started by the MES runs on the DCS through the edge and ends in the store with its response, retained for the MES",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "plantgate-dcs-" });
    await using broker = await startMosquitto();
    await using natsServer = await startNats();
    await using redisServer = await startRedis();
    const nc = await connect({ servers: natsServer.url });
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm);
    await ensureDcsEventsConsumer(jsm, 30);
    const js = jetstream(nc);
    await using _edge = await startEdgeProcess({
      dir: `${dir}/edge`,
      plantId: "A",
      timeZone: "UTC",
      erp: "sap",
      mqttUrl: broker.url,
      natsUrl: natsServer.url,
      extra: { dcs: { enabled: true } },
    });
    const redis = await connectRedis({ url: redisServer.url, log: silentLogger });
    const store = new RedisJobStore(redis);
    const jobs = {
      ...centralDefaults().jobs,
      redis: { url: redisServer.url },
      mqtt: { url: broker.url, clientId: "test-publisher" },
    };
    const publisher = new PublisherRole(jobs, silentLogger);
    const processor = new JobsProcessor(store, redisAnswerCache(redis), {
      url: broker.url,
      clientId: "test-processor",
      prefix: jobs.prefix,
      source: "urn:plantgate:test",
      answerTtlSeconds: 600,
      onTransition: dcsRunCommands(js, { scopes: { [SCOPE]: "A" }, log: silentLogger }),
      log: silentLogger,
    });
    const outcomes: DcsOutcome[] = [];
    const consumer = new DcsEventConsumer(js, {
      store,
      ledger: redisEventLedger(redis, { ttlSeconds: 3600, claimSeconds: 30 }),
    }, {
      backoff: { initialMs: 100, maxMs: 1000 },
      log: silentLogger,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    const dcs = new DcsSimulator({
      url: broker.url,
      plantId: "A",
      scope: SCOPE,
      cycleMs: 300,
      log: silentLogger,
    });
    const mes = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: "test-mes" });
    try {
      await publisher.start();
      await processor.start();
      consumer.start();
      await dcs.start();
      const retained = new Map<string, string>();
      mes.on("message", (topic, payload) => retained.set(topic, payload.toString()));
      await mes.subscribeAsync(`${jobs.prefix}/${SCOPE}/result/+`, { qos: 1 });

      const storeAndStart = methodCallMessage({
        method: "StoreAndStart",
        data: { JobOrder: { JobOrderID: "JO-1", Priority: 3 }, Comment: [] },
        id: "ce-store-and-start-1",
        source: "urn:mes",
        scope: SCOPE,
      });
      await mes.publishAsync(
        JOB_TOPICS.commands(jobs.prefix, SCOPE),
        storeAndStart.payload,
        storeAndStart.options,
      );

      const job = await until(async () => {
        const job = await store.get(SCOPE, "JO-1");
        return job?.state === "Ended" ? job : undefined;
      }, "the job to end in the store");
      assert.equal(job.substate, "Completed");
      const response = await store.getResponse(SCOPE, "JO-1");
      assert.ok(response, "the DCS's response is stored");
      const data = response.JobResponseData as { ID: string; Value: unknown }[];
      assert.match(String(data.find((d) => d.ID === "SerialNumber")?.Value), /^SN-press-7-/);
      assert.ok(Array.isArray(data.find((d) => d.ID === "TorqueActual")?.Value));
      assert.deepEqual(outcomes, ["applied", "applied"]);

      const result = await until(
        () => Promise.resolve(retained.get(`${jobs.prefix}/${SCOPE}/result/JO-1`)),
        "the retained result",
      );
      assert.equal(JSON.parse(result).JobResponseID, response.JobResponseID);

      // The edge published each event with its id as Nats-Msg-Id, on the scope's subject.
      const info = await jsm.streams.info("JOB_EVENTS");
      assert.equal(info.state.messages, 2);
      const first = await jsm.streams.getMessage("JOB_EVENTS", { seq: 1 });
      assert.equal(first?.subject, `jobs.events.A.${SCOPE}`);
      // The Run command was acknowledged by the edge only after the plant broker's PUBACK.
      const commands = await jsm.consumers.info("JOB_COMMANDS", "edge-A");
      assert.equal(commands.num_ack_pending, 0);
      assert.equal(commands.delivered.stream_seq, 1);
    } finally {
      await mes.endAsync();
      await dcs.stop();
      await consumer.stop();
      await processor.stop();
      await publisher.stop();
      redis.disconnect();
      await nc.close();
    }
  },
);
