import assert from "node:assert/strict";
import mqtt from "mqtt";
import { BUILTIN_PLUGINS } from "../../plugins/mod.ts";
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { silentLogger } from "../core/logger.ts";
import type { LotCommand } from "../core/plugin.ts";
import { bindPlugin, decodeNative } from "../core/plugin_runtime.ts";
import { integrationTest } from "../../tests/_integration.ts";
import { answerCommands } from "./erp_answers.ts";
import { startMosquitto } from "./servers.ts";

const B = { plantId: "B", system: "dynamics", timeZone: "America/Chicago" };
const plugin = BUILTIN_PLUGINS.get("dynamics")!;
const bound = bindPlugin(plugin, B);

const command = (lotId: string, commandType: LotCommand["commandType"] = "RECEIVE_LOT") => ({
  commandId: crypto.randomUUID(),
  commandType,
  plantId: "B",
  targetSystem: "dynamics",
  lotId,
  material: "100200",
  quantity: 40,
  uom: "KGM",
  correlationId: "4500000001",
  issuedAt: "2026-11-30T08:00:00.000Z",
} satisfies LotCommand);

/** Publishes a command the way the edge downlink does. */
async function deliver(client: mqtt.MqttClient, c: LotCommand): Promise<void> {
  await client.publishAsync(
    "plant/B/commands/lot",
    JSON.stringify(plugin.encode!(c, bound.ctx).body),
    {
      qos: 1,
      properties: {
        userProperties: {
          "plantgate-command-id": c.commandId,
          "plantgate-command-type": c.commandType,
          "plantgate-system": c.targetSystem,
          "plantgate-lot-id": c.lotId,
        },
      },
    },
  );
}

integrationTest(
  "a simulated ERP posts, refuses, ignores and reports like the real one",
  async () => {
    await using broker = await startMosquitto();
    const answers: CanonicalLotEvent[][] = [];
    const listener = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    listener.on("message", (topic, payload) => {
      const outcome = decodeNative(bound, { topic, payload, observedAt: new Date() });
      assert.ok(outcome.ok, JSON.stringify(outcome));
      answers.push(outcome.events);
    });
    await listener.subscribeAsync("plant/B/erp/dynamics/lot/events", { qos: 1 });
    const erp = await answerCommands({
      url: broker.url,
      plugin,
      context: B,
      stock: () => [{ lotId: "L-1", material: "100200", quantity: 7, uom: "KGM" }],
      decide: (c) =>
        c.lotId === "L-NO"
          ? { accept: false, reason: "blocked" }
          : c.lotId === "L-QUIET"
          ? "ignore"
          : { accept: true },
      log: silentLogger,
    });
    const sender = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    try {
      const ok = command("L-OK");
      await deliver(sender, ok);
      await deliver(sender, ok); // a re-delivery: the same document again
      await deliver(sender, command("L-NO"));
      await deliver(sender, command("L-QUIET"));
      const report = command("*", "REPORT_LOTS");
      await deliver(sender, { ...report, material: "*", quantity: 0, uom: "H87" });
      const deadline = Date.now() + 10_000;
      while (answers.length < 4 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(answers.length, 4);
      const [first, again, refused, stock] = answers;
      assert.equal(first[0].eventType, "LOT_RECEIVED");
      assert.equal(first[0].lotId, "L-OK");
      assert.equal(first[0].correlationId, "4500000001");
      assert.equal(
        again[0].eventId,
        first[0].eventId,
        "a re-delivered command is not posted twice",
      );
      assert.equal(refused[0].eventType, "COMMAND_REJECTED");
      assert.match(String(refused[0].payload?.reason), /blocked/);
      assert.equal(stock[0].eventType, "LOT_STOCK_REPORTED");
      assert.deepEqual([stock[0].lotId, stock[0].quantity, stock[0].correlationId], [
        "L-1",
        7,
        report.commandId,
      ]);
      // The answerer counts after its own PUBACK, which may come after the listener's copy.
      while (erp.counts.accepted < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(erp.counts, { accepted: 3, rejected: 1, ignored: 1, unreadable: 0 });
    } finally {
      await sender.endAsync();
      await listener.endAsync();
      await erp.close();
    }
  },
);
