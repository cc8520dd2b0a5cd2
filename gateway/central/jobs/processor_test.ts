import assert from "node:assert/strict";
import mqtt from "mqtt";
import { silentLogger } from "../../core/logger.ts";
import { connectRedis } from "../../io/redis.ts";
import { startMosquitto, startRedis } from "../../sim/servers.ts";
import { integrationTest } from "../../../tests/_integration.ts";
import { RedisJobStore } from "./dao.ts";
import { INVALID_JOB_ORDER_STATUS, INVALID_REQUEST, NO_ERROR, returnStatusToJson } from "./mod.ts";
import { JobsProcessor, methodCallMessage, redisAnswerCache } from "./processor.ts";
import { KEYS } from "./store.ts";

integrationTest(
  "MES method calls over MQTT v5 CloudEvents: answered, applied, evented, duplicates answered again",
  async () => {
    await using broker = await startMosquitto();
    await using redisServer = await startRedis();
    const redis = await connectRedis({ url: redisServer.url, log: silentLogger });
    const store = new RedisJobStore(redis);
    const processor = new JobsProcessor(store, redisAnswerCache(redis), {
      url: broker.url,
      clientId: "test-jobs-processor",
      prefix: "app/jobs",
      source: "urn:plantgate:test",
      answerTtlSeconds: 600,
      log: silentLogger,
    });
    await processor.start();
    const mes = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: "test-mes" });
    const answers = new Map<
      string,
      { status: unknown; props: mqtt.IPublishPacket["properties"] }[]
    >();
    const events: unknown[] = [];
    const retained = new Map<string, unknown>();
    mes.on("message", (topic, payload, packet) => {
      if (topic === "mes/replies") {
        const key = packet.properties!.correlationData!.toString();
        const list = answers.get(key) ?? [];
        list.push({
          status: JSON.parse(payload.toString()).ReturnStatus,
          props: packet.properties,
        });
        answers.set(key, list);
      } else if (topic.endsWith("/events")) events.push(JSON.parse(payload.toString()));
      else retained.set(topic, JSON.parse(payload.toString()));
    });
    await mes.subscribeAsync(["mes/replies", "app/jobs/+/events", "app/jobs/+/metadata"], {
      qos: 1,
    });
    let n = 0;
    const call = async (method: string, data: unknown, id = `ce-${++n}`) => {
      const correlation = `corr-${id}`;
      const message = methodCallMessage({
        method,
        data,
        id,
        source: "urn:mes",
        scope: "press-1",
        replyTo: { topic: "mes/replies", correlationData: new TextEncoder().encode(correlation) },
      });
      await mes.publishAsync("app/jobs/press-1/commands", message.payload, message.options);
      const deadline = Date.now() + 10_000;
      while (!answers.has(correlation) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const list = answers.get(correlation);
      assert.ok(list, `no answer to ${method} ${id}`);
      answers.delete(correlation);
      return list[list.length - 1];
    };
    try {
      const order = {
        JobOrderID: "JO-1",
        Priority: 5,
        Description: [{ Text: "brackets", Locale: "en" }],
      };
      const stored = await call("Store", { JobOrder: order, Comment: [] });
      assert.equal(stored.status, returnStatusToJson(NO_ERROR));
      assert.equal(stored.props?.userProperties?.causationid, "ce-1");
      assert.equal(
        stored.props?.userProperties?.dataschema?.toString().endsWith("StoreResponse"),
        true,
      );
      assert.equal((await store.get("press-1", "JO-1"))?.state, "NotAllowedToStart");
      // The save fed the change streams, and kept the answer in the same transaction.
      assert.equal(await redis.xlen(KEYS.changes("press-1")), 1);
      const ttl = await redis.ttl(KEYS.commandAnswer("press-1", "ce-1"));
      assert.ok(ttl > 0 && ttl <= 600, `answer kept with an expiry (ttl ${ttl})`);

      assert.equal(
        (await call("Start", { JobOrderID: "JO-1" })).status,
        returnStatusToJson(NO_ERROR),
      );
      // Not allowed in AllowedToStart: the spec's status, nothing changed.
      const clear = await call("Clear", { JobOrderID: "JO-1" });
      assert.equal(clear.status, returnStatusToJson(INVALID_JOB_ORDER_STATUS));
      assert.equal((await store.get("press-1", "JO-1"))?.state, "AllowedToStart");
      // A DCS transition is not an MES method; neither is garbage.
      const internal = await call("FromAllowedToStartToRunning", { JobOrderID: "JO-1" });
      assert.equal(internal.status, returnStatusToJson(INVALID_REQUEST));
      assert.equal(returnStatusToJson(INVALID_REQUEST), 4294967296);

      // A duplicate call (same CloudEvent id) gets the first answer again, and is not re-applied.
      const again = await call("Start", { JobOrderID: "JO-1" }, "ce-2");
      assert.equal(again.status, returnStatusToJson(NO_ERROR));
      assert.equal(await redis.xlen(KEYS.changes("press-1")), 2);

      const deadline = Date.now() + 5_000;
      while (
        (events.length < 2 || !retained.has("app/jobs/press-1/metadata")) && Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(events.length, 2, "one status event per transition");
      assert.deepEqual(
        (events[1] as { JobState: { StateText: { Text: string } }[] }).JobState[0].StateText.Text,
        "AllowedToStart",
      );
      assert.ok(retained.has("app/jobs/press-1/metadata"));
    } finally {
      await mes.endAsync();
      await processor.stop();
      redis.disconnect();
    }
  },
);
