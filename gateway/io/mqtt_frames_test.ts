import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import { decodePublish, FrameReader, isPublish } from "./mqtt_frames.ts";

const V5 = { protocolVersion: 5 };

function publish(
  topic: string,
  payload: Uint8Array,
  extra: Record<string, unknown> = {},
): Uint8Array {
  return new Uint8Array(mqttPacket.generate({
    cmd: "publish",
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    messageId: 42,
    dup: false,
    retain: false,
    ...extra,
  } as mqttPacket.IPublishPacket, V5));
}

/** Feeds `stream` to a FrameReader in pieces of `step` bytes; returns the packets. */
function frames(stream: Uint8Array, step: number): Uint8Array[] {
  const reader = new FrameReader(8);
  const out: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += step) {
    const piece = stream.subarray(at, Math.min(stream.length, at + step));
    reader.space(piece.length).set(piece);
    reader.wrote(piece.length);
    for (let p = reader.next(); p; p = reader.next()) out.push(p.slice());
  }
  return out;
}

Deno.test("PUBLISH packets decode as mqtt-packet wrote them: QoS, flags, properties", () => {
  const payload = new TextEncoder().encode('{"E1MBXYH":{}}');
  const cases = [
    { qos: 0, messageId: undefined },
    { qos: 1, dup: true },
    { qos: 1, retain: true },
    {
      qos: 1,
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 3600,
        contentType: "application/json",
        responseTopic: "r/t",
        correlationData: Buffer.from([1, 2, 3]),
        userProperties: { plant: "A", erp: "sap" },
        subscriptionIdentifier: 300,
      },
    },
  ];
  for (const extra of cases) {
    const frame = decodePublish(publish("plant/A/erp/sap/lot/events", payload, extra));
    assert.equal(frame.topic, "plant/A/erp/sap/lot/events");
    assert.deepEqual(frame.payload, payload);
    assert.equal(frame.qos, extra.qos);
    assert.equal(frame.dup, extra.dup ?? false);
    assert.equal(frame.retain, extra.retain ?? false);
    assert.equal(frame.packetId, extra.qos === 0 ? undefined : 42);
  }
  const aliased = decodePublish(
    publish("", payload, { properties: { topicAlias: 7 } }),
  );
  assert.deepEqual([aliased.topic, aliased.topicAlias], ["", 7]);
});

Deno.test("a stream cut at every size yields the same packets, large ones included", () => {
  const big = new Uint8Array(200_000).map((_, i) => i % 251);
  const packets = [
    publish("a", new TextEncoder().encode("one")),
    new Uint8Array(mqttPacket.generate({ cmd: "pingresp" }, V5)),
    publish("b/c", big),
    publish("d", new Uint8Array(0), { qos: 0, messageId: undefined }),
  ];
  const stream = new Uint8Array(packets.reduce((n, p) => n + p.length, 0));
  packets.reduce((at, p) => (stream.set(p, at), at + p.length), 0);
  for (const step of [1, 2, 3, 7, 127, 128, 129, 4096, stream.length]) {
    const got = frames(stream, step);
    assert.deepEqual(got, packets, `pieces of ${step} bytes`);
  }
  assert.deepEqual(
    frames(stream, 1000).map((p) => isPublish(p)),
    [true, false, true, true],
  );
  const decoded = decodePublish(frames(stream, 1000)[2]);
  assert.deepEqual([decoded.topic, decoded.payload.length], ["b/c", big.length]);
});

Deno.test("the payload is a copy that outlives the receive buffer", () => {
  const reader = new FrameReader(64);
  const packet = publish("t", new TextEncoder().encode("keep me"));
  reader.space(packet.length).set(packet);
  reader.wrote(packet.length);
  const frame = decodePublish(reader.next()!);
  reader.space(64).fill(0xff);
  assert.equal(new TextDecoder().decode(frame.payload), "keep me");
});

Deno.test("malformed packets are refused with what is wrong", () => {
  const packet = publish("topic", new TextEncoder().encode("x"));
  // Topic length pointing past the end.
  const longTopic = packet.slice();
  longTopic[2] = 0xff;
  assert.throws(() => decodePublish(longTopic), /topic longer than the packet/);
  // QoS 3 does not exist.
  const qos3 = packet.slice();
  qos3[0] |= 0x06;
  assert.throws(() => decodePublish(qos3), /QoS 3/);
  // A remaining length that never ends.
  const reader = new FrameReader(16);
  reader.space(6).set([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
  reader.wrote(6);
  assert.throws(() => reader.next(), /remaining length/);
});
