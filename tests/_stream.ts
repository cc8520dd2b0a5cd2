import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";

/** A stored stream message: subject, headers we care about, body. */
export interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: Uint8Array;
}

/** Reads every message of a stream in stream order (ordered consumer). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const total = (await jsm.streams.info(stream)).state.messages;
  const out: StoredMessage[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push({
      seq: m.seq,
      subject: m.subject,
      msgId: m.headers?.get("Nats-Msg-Id"),
      data: m.data,
    });
    if (out.length >= total) break;
  }
  await messages.close();
  return out;
}
