/**
 * The lossy baseline of the edge benchmark: MQTT QoS 1 -> JetStream publish, PUBACK sent at
 * once, no buffer, no decoding. What a quick integration script does; it loses every message
 * in flight when it dies. Run: deno run -A bench/naive_forwarder.ts <mqtt-url> <nats-url> <topic> <subject>
 *
 * @module
 */
import mqtt from "mqtt";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";

const [mqttUrl, natsUrl, topic, subject] = Deno.args;
const nc = await connect({ servers: [natsUrl] });
const js = jetstream(nc);
const client = await mqtt.connectAsync(mqttUrl, {
  protocolVersion: 5,
  clientId: `naive-forwarder-${Date.now()}`,
});
const run = Date.now();
let n = 0;
client.handleMessage = (packet, callback) => {
  js.publish(subject, packet.payload as Uint8Array, { msgID: `naive-${run}-${n++}` }).catch(
    () => {},
  );
  callback();
};
await client.subscribeAsync(topic, { qos: 1 });
Deno.stdout.writeSync(new TextEncoder().encode("ready\n"));
Deno.addSignalListener("SIGTERM", async () => {
  await client.endAsync();
  await nc.close();
  Deno.exit(0);
});
