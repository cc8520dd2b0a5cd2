/**
 * Acceptance: bad input never crashes the edge and is never dropped silently. Invalid JSON,
 * wrong types, unknown movement types, oversized payloads and non-UTF-8 bytes each become a
 * dead letter with a stable code (kept locally and forwarded to `dlq.edge.<plant>`), and good
 * messages keep flowing afterwards.
 */
import assert from "node:assert/strict";
import { Buffer as NodeBuffer } from "node:buffer";
import mqtt from "mqtt";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Fixture } from "../gateway/core/fixtures.ts";
import { connectNats, ensureStreams } from "../gateway/io/jetstream.ts";
import { metricValue, startEdgeProcess } from "../gateway/sim/edge_process.ts";
import { startMosquitto, startNats } from "../gateway/sim/servers.ts";
import { integrationTest } from "./_integration.ts";
import { readStream } from "./_stream.ts";

const TOPIC = "plant/A/erp/sap/lot/events";

/** A native document from the SAP plugin's golden fixtures with the given outcome. */
async function sapFixture(match: (f: Fixture) => boolean): Promise<unknown> {
  const dir = new URL("../plugins/sap/fixtures/", import.meta.url);
  for await (const entry of Deno.readDir(dir)) {
    const fixture = JSON.parse(await Deno.readTextFile(new URL(entry.name, dir))) as Fixture;
    if (fixture.native !== undefined && match(fixture)) return fixture.native;
  }
  throw new Error("no such SAP fixture");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

integrationTest(
  "every kind of bad input becomes a coded dead letter and the edge keeps going",
  async () => {
    const root = await Deno.makeTempDir({ prefix: "plantgate-bad-input-" });
    await using mosquitto = await startMosquitto({ dir: `${root}/mosquitto` });
    await using nats = await startNats({ dir: `${root}/nats` });
    const admin = await connectNats({ servers: [nats.url], name: "test-admin" });
    await ensureStreams(await jetstreamManager(admin));
    await using edge = await startEdgeProcess({
      dir: `${root}/edge`,
      plantId: "A",
      timeZone: "Europe/Berlin",
      erp: "sap",
      mqttUrl: mosquitto.url,
      natsUrl: nats.url,
      extra: { ingest: { maxPayloadBytes: "64KiB" } },
    });
    const good = await sapFixture((f) => (f.expect?.length ?? 0) > 0);
    const unknownMovement = await sapFixture((f) => f.expectError?.code === "plugin_unsupported");
    const wrongType = await sapFixture((f) => f.expectError?.code === "plugin_invalid_payload");
    const bad: [string, Uint8Array][] = [
      ["invalid_json", new TextEncoder().encode('{"E1MBGMCR": {')],
      ["plugin_invalid_payload", new TextEncoder().encode(JSON.stringify(wrongType))],
      ["plugin_unsupported", new TextEncoder().encode(JSON.stringify(unknownMovement))],
      ["payload_too_large", new TextEncoder().encode(JSON.stringify({ x: "y".repeat(100_000) }))],
      ["invalid_utf8", Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])],
    ];
    const client = await mqtt.connectAsync(mosquitto.url, {
      protocolVersion: 5,
      clientId: "bad-input",
    });
    try {
      for (const [, payload] of bad) {
        await client.publishAsync(TOPIC, NodeBuffer.from(payload), {
          qos: 1,
        });
      }
      await client.publishAsync(TOPIC, JSON.stringify(good), { qos: 1 });
    } finally {
      await client.endAsync();
    }
    const deadline = Date.now() + 30_000;
    let dlq: Awaited<ReturnType<typeof readStream>> = [];
    let events: Awaited<ReturnType<typeof readStream>> = [];
    for (;;) {
      dlq = await readStream(admin, "DEAD_LETTERS");
      events = await readStream(admin, "LOT_EVENTS");
      if (dlq.length >= bad.length && events.length > 0) break;
      assert.ok(Date.now() < deadline, `dead letters arrive (${dlq.length}/${bad.length})`);
      await sleep(200);
    }
    const js = await jetstreamManager(admin);
    const codes: string[] = [];
    for (const m of dlq) {
      const stored = await js.streams.getMessage("DEAD_LETTERS", { seq: m.seq });
      codes.push(stored!.header.get("Plantgate-Code"));
      assert.equal(m.subject, "dlq.edge.A");
    }
    assert.deepEqual([...codes].sort(), bad.map(([code]) => code).sort());
    const tooLarge = dlq.find((_, i) => codes[i] === "payload_too_large");
    assert.ok(
      tooLarge && tooLarge.data.byteLength <= 64 * 1024,
      "an oversized payload keeps its first bytes only",
    );
    const nonUtf8 = dlq[codes.indexOf("invalid_utf8")];
    assert.deepEqual(
      [...nonUtf8.data],
      [0x7b, 0xff, 0xfe, 0x7d],
      "the original bytes are kept exactly",
    );

    const health = await edge.health();
    assert.equal(health.ready, true, "the edge is still ready");
    const metrics = await edge.metrics();
    assert.equal(metricValue(metrics, "plantgate_edge_dead_lettered_total"), bad.length);
    assert.equal(metricValue(metrics, "plantgate_edge_errors_total", 'code="invalid_utf8"'), 1);
    assert.ok(events.length >= 1, "a good message after the bad ones is forwarded");
    await admin.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  },
);
