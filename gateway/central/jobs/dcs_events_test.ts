import assert from "node:assert/strict";
import { silentLogger } from "../../core/logger.ts";
import { connectRedis } from "../../io/redis.ts";
import { startRedis } from "../../sim/servers.ts";
import { integrationTest } from "../../../tests/_integration.ts";
import { RedisJobStore } from "./dao.ts";
import { applyDcsEvent, DCS_KEYS, redisEventLedger } from "./dcs_events.ts";
import { type DcsEvent, dcsEventId } from "./dcs_message.ts";
import { applyMethod } from "./mod.ts";
import { type JobStore, KEYS } from "./store.ts";

const SCOPE = "press-7";

function dcsEvent(transition: string, extra: Partial<DcsEvent> = {}): DcsEvent {
  return {
    eventId: dcsEventId("A", SCOPE, { jobOrderId: "JO-1", transition, run: "run-1" }),
    scope: SCOPE,
    jobOrderId: "JO-1",
    transition,
    at: "2026-05-01T10:00:00.000Z",
    ...extra,
  } as DcsEvent;
}

integrationTest(
  "DCS events: applied once (duplicates acked unapplied), response before the transition, refusals kept",
  async () => {
    await using server = await startRedis();
    const redis = await connectRedis({ url: server.url, log: silentLogger });
    try {
      const store = new RedisJobStore(redis);
      const ledger = redisEventLedger(redis, { ttlSeconds: 3600, claimSeconds: 30 });
      const stored = applyMethod(undefined, "StoreAndStart", {
        JobOrder: { JobOrderID: "JO-1" },
      }, new Date("2026-05-01T09:59:00Z"));
      assert.ok(stored.ok);
      await store.save(SCOPE, stored.job, "StoreAndStart");

      const running = dcsEvent("FromAllowedToStartToRunning");
      assert.equal(await applyDcsEvent(store, ledger, running, silentLogger), "applied");
      assert.equal((await store.get(SCOPE, "JO-1"))?.state, "Running");
      // The same event again (edge re-send, JetStream re-delivery): nothing is written.
      const entries = await redis.xlen(KEYS.changes(SCOPE));
      assert.equal(await applyDcsEvent(store, ledger, running, silentLogger), "duplicate");
      assert.equal(await redis.xlen(KEYS.changes(SCOPE)), entries);

      const response = { JobResponseID: "JR-1", JobOrderID: "JO-1", JobResponseData: [] };
      const ended = dcsEvent("FromRunningToEnded", { response });
      assert.equal(await applyDcsEvent(store, ledger, ended, silentLogger), "applied");
      const job = await store.get(SCOPE, "JO-1");
      assert.equal(job?.state, "Ended");
      assert.equal(
        job?.updatedAt,
        "2026-05-01T10:00:00.000Z",
        "the DCS's time is the transition's",
      );
      assert.deepEqual(await store.getResponse(SCOPE, "JO-1"), response);
      const changes = (await redis.xrange(KEYS.changes(SCOPE), "-", "+"))
        .map(([, fields]) => fields[fields.indexOf("change_type") + 1]);
      assert.deepEqual(changes.slice(-2), ["ResultUpdate", "FromRunningToEnded"]);

      // Running again from Ended is refused: logged, kept for review, and not retried.
      const refused = dcsEvent("FromAllowedToStartToRunning", {
        eventId: dcsEventId("A", SCOPE, { jobOrderId: "JO-1", transition: "x", run: "run-2" }),
      });
      assert.equal(await applyDcsEvent(store, ledger, refused, silentLogger), "refused");
      assert.equal((await store.get(SCOPE, "JO-1"))?.state, "Ended");
      const kept = (await redis.lrange(DCS_KEYS.refused, 0, -1)).map((e) => JSON.parse(e));
      assert.equal(kept.length, 1);
      assert.equal(kept[0].event.eventId, refused.eventId);
      assert.match(kept[0].reason, /not allowed/);
      assert.equal(await applyDcsEvent(store, ledger, refused, silentLogger), "duplicate");
      assert.equal(await redis.llen(DCS_KEYS.refused), 1);

      // An event for a job the store never had is refused too.
      const unknown = dcsEvent("FromRunningToEnded", {
        eventId: crypto.randomUUID(),
        jobOrderId: "JO-404",
      });
      assert.equal(await applyDcsEvent(store, ledger, unknown, silentLogger), "refused");
      assert.equal(await redis.llen(DCS_KEYS.refused), 2);
    } finally {
      redis.disconnect();
    }
  },
);

integrationTest(
  "a DCS event whose store write fails is released and applied on re-delivery",
  async () => {
    await using server = await startRedis();
    const redis = await connectRedis({ url: server.url, log: silentLogger });
    try {
      const real = new RedisJobStore(redis);
      const stored = applyMethod(
        undefined,
        "StoreAndStart",
        { JobOrder: { JobOrderID: "JO-1" } },
        new Date(),
      );
      assert.ok(stored.ok);
      await real.save(SCOPE, stored.job, "StoreAndStart");
      const failing: JobStore = {
        get: (scope, id) => real.get(scope, id),
        list: (scope) => real.list(scope),
        save: () => Promise.reject(new Error("Redis went away")),
        getResponse: (scope, id) => real.getResponse(scope, id),
        saveResponse: (scope, response) => real.saveResponse(scope, response),
        scopes: () => real.scopes(),
      };
      const ledger = redisEventLedger(redis, { ttlSeconds: 3600, claimSeconds: 30 });
      const event = dcsEvent("FromAllowedToStartToRunning");
      await assert.rejects(applyDcsEvent(failing, ledger, event, silentLogger), /went away/);
      assert.equal(await applyDcsEvent(real, ledger, event, silentLogger), "applied");
      assert.equal((await real.get(SCOPE, "JO-1"))?.state, "Running");
    } finally {
      redis.disconnect();
    }
  },
);
