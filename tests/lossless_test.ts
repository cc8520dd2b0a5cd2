/**
 * Acceptance: lossless under faults, against private real servers. 20,100 native messages from
 * three plants (SAP, Dynamics, Infor) while NATS is stopped for a stretch, every edge is killed
 * with SIGKILL twice mid-stream and restarted, and Mosquitto is restarted once. Afterwards every
 * valid event is in LOT_EVENTS exactly once, per-lot order in the stream is the source order,
 * and every malformed message is a dead letter.
 */
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { BUILTIN_PLUGINS } from "../plugins/mod.ts";
import type { CanonicalLotEvent } from "../gateway/core/canonical_event.ts";
import { bindPlugin, decodeNative } from "../gateway/core/plugin_runtime.ts";
import { connectNats, ensureStreams } from "../gateway/io/jetstream.ts";
import { startEdgeProcess } from "../gateway/sim/edge_process.ts";
import { planTraffic, publishTraffic, type SentMessage } from "../gateway/sim/erp_simulator.ts";
import { startMosquitto, startNats } from "../gateway/sim/servers.ts";
import { integrationTest } from "./_integration.ts";
import { readStream } from "./_stream.ts";

const PLANTS = [
  { plantId: "A", erp: "sap", timeZone: "Europe/Berlin" },
  { plantId: "B", erp: "dynamics", timeZone: "America/Chicago" },
  { plantId: "C", erp: "infor", timeZone: "Asia/Shanghai" },
];
const PER_PLANT = 6_700;
const RATE = 700;

interface Expected {
  eventIds: Set<string>;
  /** eventIds per lot key in source order (first occurrence). */
  perLot: Map<string, string[]>;
  malformed: number;
  resends: number;
}

/** The oracle: what the edges must deliver, by decoding what was sent with the same plugins. */
function expectedFor(plan: SentMessage[], plant: (typeof PLANTS)[number]): Expected {
  const bound = bindPlugin(BUILTIN_PLUGINS.get(plant.erp)!, {
    plantId: plant.plantId,
    system: plant.erp,
    timeZone: plant.timeZone,
  });
  const expected: Expected = { eventIds: new Set(), perLot: new Map(), malformed: 0, resends: 0 };
  for (const m of plan) {
    if (m.kind === "malformed") {
      expected.malformed++;
      continue;
    }
    if (m.kind === "resend") expected.resends++;
    const outcome = decodeNative(bound, {
      topic: m.topic,
      payload: m.payload,
      observedAt: new Date(),
    });
    assert.ok(
      outcome.ok,
      `simulated ${m.op?.kind} document decodes: ${!outcome.ok && outcome.message}`,
    );
    for (const e of outcome.events) {
      if (expected.eventIds.has(e.eventId)) continue;
      expected.eventIds.add(e.eventId);
      const key = `${e.plantId}/${e.sourceSystem}/${e.lotId}`;
      expected.perLot.set(key, [...(expected.perLot.get(key) ?? []), e.eventId]);
    }
  }
  return expected;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

integrationTest(
  "edges lose nothing and duplicate nothing through NATS, edge and Mosquitto failures",
  async () => {
    const root = await Deno.makeTempDir({ prefix: "plantgate-lossless-" });
    await using mosquitto = await startMosquitto({ dir: `${root}/mosquitto` });
    await using nats = await startNats({ dir: `${root}/nats` });
    const admin = await connectNats({ servers: [nats.url], name: "test-admin" });
    await ensureStreams(await jetstreamManager(admin));
    const edges = await Promise.all(
      PLANTS.map((p) =>
        startEdgeProcess({
          dir: `${root}/edge-${p.plantId}`,
          ...p,
          mqttUrl: mosquitto.url,
          natsUrl: nats.url,
        })
      ),
    );
    try {
      const plans = PLANTS.map((p, i) =>
        planTraffic({
          plugin: BUILTIN_PLUGINS.get(p.erp)!,
          context: { plantId: p.plantId, system: p.erp, timeZone: p.timeZone },
          count: PER_PLANT,
          seed: 11 + i,
          resendRatio: 0.03,
          malformedRatio: 0.01,
          hugeBytes: 1.1 * 1024 * 1024,
          firstNumber: 1 + i * 10_000_000,
        })
      );
      const expected = PLANTS.map((p, i) => expectedFor(plans[i], p));
      const publishing = Promise.all(
        plans.map((plan) => publishTraffic(plan, { url: mosquitto.url, rate: RATE })),
      );

      const faults = (async () => {
        await sleep(1_500);
        await nats.stop(); // (a) the centre goes away
        await sleep(1_000);
        await Promise.all(edges.map((e) => e.kill())); // (b) first SIGKILL
        await Promise.all(edges.map((e) => e.start()));
        await sleep(1_500);
        await nats.start();
        await sleep(1_500);
        await mosquitto.stop(); // (c) graceful broker restart
        await mosquitto.start();
        await sleep(1_500);
        await Promise.all(edges.map((e) => e.kill())); // (b) second SIGKILL
        await Promise.all(edges.map((e) => e.start()));
      })();
      await Promise.all([publishing, faults]);

      const deadline = Date.now() + 180_000;
      for (;;) {
        const healths = await Promise.all(edges.map((e) => e.health()));
        if (healths.every((h) => h.backlog === 0 && h.deadLettersUnforwarded === 0)) {
          // Re-deliveries after the last kill may still be arriving: settle once more.
          await sleep(1_000);
          const again = await Promise.all(edges.map((e) => e.health()));
          if (again.every((h) => h.backlog === 0 && h.deadLettersUnforwarded === 0)) break;
        }
        assert.ok(Date.now() < deadline, `edges drain within 3 min: ${JSON.stringify(healths)}`);
        await sleep(500);
      }

      const stored = await readStream(admin, "LOT_EVENTS");
      const seen = new Map<string, number>();
      const perLot = new Map<string, string[]>();
      for (const m of stored) {
        const event = JSON.parse(new TextDecoder().decode(m.data)) as CanonicalLotEvent;
        assert.equal(m.msgId, event.eventId, "Nats-Msg-Id is the eventId");
        seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
        const key = `${event.plantId}/${event.sourceSystem}/${event.lotId}`;
        perLot.set(key, [...(perLot.get(key) ?? []), event.eventId]);
      }
      const duplicated = [...seen].filter(([, n]) => n > 1);
      assert.deepEqual(duplicated, [], "no event is in the stream twice");
      const allExpected = new Set(expected.flatMap((e) => [...e.eventIds]));
      const missing = [...allExpected].filter((id) => !seen.has(id));
      assert.equal(missing.length, 0, `${missing.length} expected events are missing`);
      assert.equal(seen.size, allExpected.size, "nothing unexpected is in the stream");
      for (const e of expected) {
        for (const [lot, ids] of e.perLot) {
          assert.deepEqual(perLot.get(lot), ids, `order of lot ${lot}`);
        }
      }

      const dlq = await readStream(admin, "DEAD_LETTERS");
      for (const [i, p] of PLANTS.entries()) {
        const count = dlq.filter((m) => m.subject === `dlq.edge.${p.plantId}`).length;
        assert.equal(
          count,
          expected[i].malformed,
          `plant ${p.plantId}: every malformed message is a dead letter`,
        );
        assert.ok(
          expected[i].resends > 0 && expected[i].malformed > 0,
          "the traffic had re-sends and defects",
        );
      }
      assert.ok(
        allExpected.size >= 19_000,
        `a large history was checked (${allExpected.size} events)`,
      );
    } finally {
      await Promise.all(edges.map((e) => e.stop()));
      await admin.close();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
);
