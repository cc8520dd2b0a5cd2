/**
 * The 30-minute MES outage of seed 003, time-compressed: the MES stores jobs, goes offline, the
 * machine runs them all to the end at a high cadence (its events applied as the centre's DCS
 * consumer applies them, each delivered twice; results before and after the terminal
 * transition), the MES comes back, sees the seq gap, finds every result retained, records it,
 * clears every job — and no response data is lost; the state index then lists no cleared job and
 * their retained topics are gone. Real Mosquitto and Redis; the processor, the publisher and the
 * reference MES client as in production.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { RedisJobStore } from "../gateway/central/jobs/dao.ts";
import { MesClient } from "../gateway/central/jobs/mes_client.ts";
import { applyDcsEvent, redisEventLedger } from "../gateway/central/jobs/dcs_events.ts";
import { type DcsEvent, dcsEventId } from "../gateway/central/jobs/dcs_message.ts";
import type { JobEvent } from "../gateway/central/jobs/mod.ts";
import {
  JobsProcessor,
  methodCallMessage,
  redisAnswerCache,
} from "../gateway/central/jobs/processor.ts";
import { PublisherRole } from "../gateway/central/jobs/publish_role.ts";
import { JOB_TOPICS, type JobResponse } from "../gateway/central/jobs/store.ts";
import { centralDefaults } from "../gateway/core/central_config.ts";
import { silentLogger } from "../gateway/core/logger.ts";
import { connectRedis } from "../gateway/io/redis.ts";
import { startMosquitto, startRedis } from "../gateway/sim/servers.ts";
import { integrationTest, waitFor as until } from "./_integration.ts";

const SCOPE = "press-7";
const JOBS = 40;

integrationTest(
  "MES outage: on reconnect the client sees the gap, records every result, clears every job",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "plantgate-mes-" });
    await using broker = await startMosquitto();
    await using redisServer = await startRedis();
    const redis = await connectRedis({ url: redisServer.url, log: silentLogger });
    const store = new RedisJobStore(redis);
    const jobs = {
      ...centralDefaults().jobs,
      redis: { url: redisServer.url },
      mqtt: { url: broker.url, clientId: "test-publisher" },
    };
    const publisher = new PublisherRole(jobs, silentLogger);
    await publisher.start();
    const processor = new JobsProcessor(store, redisAnswerCache(redis), {
      url: broker.url,
      clientId: "test-processor",
      prefix: jobs.prefix,
      source: "urn:plantgate:test",
      answerTtlSeconds: 600,
      log: silentLogger,
    });
    await processor.start();
    const mesOptions = {
      url: broker.url,
      clientId: "test-mes",
      prefix: jobs.prefix,
      scopes: [SCOPE],
      stateFile: `${dir}/mes-state.json`,
      resultsFile: `${dir}/mes-results.jsonl`,
      log: silentLogger,
    };
    const written = new Map<string, JobResponse>();
    try {
      // The MES stores the jobs through the processor (StoreAndStart), then goes offline.
      const mes = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: "mes-cmd" });
      for (let i = 0; i < JOBS; i++) {
        const call = methodCallMessage({
          method: "StoreAndStart",
          data: { JobOrder: { JobOrderID: `JO-${i}` }, Comment: [] },
          id: `store-${i}`,
          source: "urn:mes",
          scope: SCOPE,
        });
        await mes.publishAsync(JOB_TOPICS.commands(jobs.prefix, SCOPE), call.payload, call.options);
      }
      await mes.endAsync();
      await until(
        async () => (await store.list(SCOPE)).length === JOBS ? true : undefined,
        "the jobs stored",
      );
      const first = new MesClient(mesOptions);
      await first.start();
      await until(
        () => Promise.resolve(first.lastSeq[SCOPE] !== undefined ? true : undefined),
        "the MES saw the index",
      );
      await first.stop();
      const seqBefore = first.lastSeq[SCOPE];

      // Offline: the machine runs every job at a high cadence, its events applied the way the
      // centre's DCS consumer applies them, each delivered twice (at-least-once). Half the results
      // come with the Running event (before the terminal transition), half with the last event.
      const ledger = redisEventLedger(redis, { ttlSeconds: 3600, claimSeconds: 30 });
      const dcs = async (i: number, transition: JobEvent, response?: JobResponse) => {
        const jobOrderId = `JO-${i}`;
        const event: DcsEvent = {
          eventId: dcsEventId("A", SCOPE, { jobOrderId, transition, run: "1" }),
          scope: SCOPE,
          jobOrderId,
          transition,
          ...(response ? { response } : {}),
          at: new Date().toISOString(),
        };
        assert.equal(await applyDcsEvent(store, ledger, event, silentLogger), "applied");
        assert.equal(await applyDcsEvent(store, ledger, event, silentLogger), "duplicate");
      };
      for (let i = 0; i < JOBS; i++) {
        const id = `JO-${i}`;
        const response: JobResponse = {
          JobResponseID: `JR-${i}`,
          JobOrderID: id,
          JobResponseData: [{ ID: "torque", Value: 40 + i / 10 }, {
            ID: "serial",
            Value: `SN-${i}`,
          }],
        };
        written.set(id, response);
        const early = i % 2 === 0;
        await dcs(i, "FromAllowedToStartToRunning", early ? response : undefined);
        await dcs(i, i % 5 === 4 ? "Abort" : "FromRunningToEnded", early ? undefined : response);
      }

      // Back online: the gap, every result recorded once, every job cleared.
      const mesAgain = new MesClient(mesOptions);
      await mesAgain.start();
      await until(
        async () => {
          const listed = (await store.list(SCOPE)).filter((j) => j.state !== "EndState");
          return listed.length === 0 ? true : undefined;
        },
        "every job cleared",
      );
      await mesAgain.stop();
      assert.ok(mesAgain.counts.gaps >= 1, "the seq gap was seen");
      assert.ok(mesAgain.lastSeq[SCOPE] > seqBefore + 1);
      assert.equal(mesAgain.counts.cleared, JOBS);
      const recorded = (await Deno.readTextFile(mesOptions.resultsFile)).trim().split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(recorded.length, JOBS, "each result recorded exactly once");
      for (const r of recorded) assert.deepEqual(r.result, written.get(r.jobOrderId));

      // The final state index lists no cleared job; their retained topics are gone.
      const reader = await mqtt.connectAsync(broker.url, {
        protocolVersion: 5,
        clientId: "reader",
      });
      const retained = new Map<string, string>();
      reader.on("message", (topic, payload) => retained.set(topic, payload.toString()));
      await reader.subscribeAsync(`${jobs.prefix}/${SCOPE}/#`, { qos: 1 });
      await new Promise((r) => setTimeout(r, 1000));
      await reader.endAsync();
      const index = JSON.parse(retained.get(`${jobs.prefix}/${SCOPE}/state-index`)!);
      assert.deepEqual(index.jobs, []);
      const leftovers = [...retained.keys()].filter((t) => /\/(order|result)\//.test(t));
      assert.deepEqual(leftovers, []);
    } finally {
      await processor.stop();
      await publisher.stop();
      redis.disconnect();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
