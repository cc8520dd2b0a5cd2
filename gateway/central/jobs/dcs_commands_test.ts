import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { silentLogger } from "../../core/logger.ts";
import { connectNats, ensureStreams } from "../../io/jetstream.ts";
import { connectRedis } from "../../io/redis.ts";
import { startNats, startRedis } from "../../sim/servers.ts";
import { integrationTest } from "../../../tests/_integration.ts";
import { RedisJobStore } from "./dao.ts";
import { resendPendingRuns, runCommand } from "./dcs_commands.ts";
import { applyMethod } from "./mod.ts";

integrationTest(
  "Run commands of jobs still AllowedToStart are sent again, deduplicated",
  async () => {
    await using nats = await startNats();
    await using redisServer = await startRedis();
    const nc = await connectNats({ servers: [nats.url], name: "test" });
    const redis = await connectRedis({ url: redisServer.url, log: silentLogger });
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStreams(jsm);
      const store = new RedisJobStore(redis);
      const now = new Date("2026-12-02T05:00:00Z");
      for (const [id, method] of [["JO-1", "StoreAndStart"], ["JO-2", "Store"]] as const) {
        const result = applyMethod(undefined, method, { JobOrder: { JobOrderID: id } }, now);
        assert.ok(result.ok);
        await store.save("press-1", result.job, result.transition.event);
      }
      const options = { scopes: { "press-1": "A" }, log: silentLogger };
      const js = jetstream(nc);
      assert.equal(await resendPendingRuns(store, js, options), 1, "only the AllowedToStart job");
      assert.equal(await resendPendingRuns(store, js, options), 1);
      const info = await jsm.streams.info("JOB_COMMANDS");
      assert.equal(info.state.messages, 1, "the repeat has the same command id: dropped");
      const stored = await jsm.streams.getMessage("JOB_COMMANDS", { seq: info.state.first_seq });
      const job = (await store.get("press-1", "JO-1"))!;
      assert.equal(stored!.subject, "jobs.commands.A.press-1");
      assert.equal(
        stored!.json<{ commandId: string }>().commandId,
        runCommand("press-1", job).commandId,
      );
    } finally {
      await nc.close();
      redis.disconnect();
    }
  },
);
