/**
 * MQTT framing and a PUBLISH decoder for the ingest hot path. mqtt-packet's streaming parser
 * copies every packet through a BufferList and formats debug arguments per field, several
 * kilobytes of garbage per message at thousands of messages a second; here a PUBLISH is cut
 * out of one growing receive buffer and only its topic and payload are copied. Other packets
 * (CONNACK, SUBACK, PINGRESP, DISCONNECT) are handed to mqtt-packet whole.
 *
 * @module
 */

/** Splits a byte stream into whole MQTT control packets. */
export class FrameReader {
  #bytes: Uint8Array;
  #start = 0;
  #end = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#bytes = new Uint8Array(initialBytes);
  }

  /** Room to read into: at least `min` bytes free at the end (compacting or growing first). */
  space(min = 16 * 1024): Uint8Array {
    if (this.#bytes.length - this.#end < min) {
      const used = this.#end - this.#start;
      if (this.#bytes.length >= used + min) {
        this.#bytes.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(this.#bytes.length * 2, used + min));
        grown.set(this.#bytes.subarray(this.#start, this.#end));
        this.#bytes = grown;
      }
      this.#start = 0;
      this.#end = used;
    }
    return this.#bytes.subarray(this.#end);
  }

  /** Records that `n` bytes were read into the last {@linkcode space}. */
  wrote(n: number): void {
    this.#end += n;
  }

  /**
   * The next whole packet (valid until the next {@linkcode space}), or `undefined` when its
   * bytes have not all arrived. Throws on a malformed remaining length.
   */
  next(): Uint8Array | undefined {
    const available = this.#end - this.#start;
    if (available < 2) return undefined;
    let length = 0;
    let multiplier = 1;
    let header = 1;
    for (;;) {
      if (header >= available) return undefined;
      const byte = this.#bytes[this.#start + header];
      length += (byte & 0x7f) * multiplier;
      header++;
      if ((byte & 0x80) === 0) break;
      if (header > 4) throw new Error("malformed MQTT packet: remaining length over 4 bytes");
      multiplier *= 128;
    }
    const total = header + length;
    if (available < total) {
      // Make sure a large packet will fit once it has arrived.
      if (this.#bytes.length - this.#start < total) this.space(total - available);
      return undefined;
    }
    const packet = this.#bytes.subarray(this.#start, this.#start + total);
    this.#start += total;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return packet;
  }
}

/** A decoded PUBLISH. */
export interface PublishFrame {
  topic: string;
  /** A copy: independent of the receive buffer. */
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  dup: boolean;
  retain: boolean;
  /** Present for QoS 1 and 2. */
  packetId?: number;
  /** MQTT v5 Topic Alias property, when the broker sent one. */
  topicAlias?: number;
}

/** True for a PUBLISH packet (type 3). */
export function isPublish(packet: Uint8Array): boolean {
  return packet[0] >> 4 === 3;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes an MQTT v5 PUBLISH packet (as {@linkcode FrameReader.next} returns it). */
export function decodePublish(packet: Uint8Array): PublishFrame {
  const fail = (what: string): never => {
    throw new Error(`malformed MQTT PUBLISH: ${what}`);
  };
  const flags = packet[0] & 0x0f;
  const qosBits = (flags >> 1) & 3;
  if (qosBits === 3) fail("QoS 3");
  const qos = qosBits as 0 | 1 | 2;
  let at = 1;
  while (packet[at] & 0x80) at++;
  at++;
  const u16 = () => {
    if (at + 2 > packet.length) fail("truncated");
    const value = (packet[at] << 8) | packet[at + 1];
    at += 2;
    return value;
  };
  // `at += u16()` would add to the value of `at` before u16() moved it.
  const skipString = () => {
    const length = u16();
    at += length;
  };
  const varint = () => {
    let value = 0;
    for (let shift = 0, i = 0;; shift += 7, i++) {
      if (at >= packet.length || i > 3) fail("bad variable byte integer");
      const byte = packet[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  const topicLength = u16();
  if (at + topicLength > packet.length) fail("topic longer than the packet");
  const topic = utf8.decode(packet.subarray(at, at + topicLength));
  at += topicLength;
  const packetId = qos > 0 ? u16() : undefined;
  const propertiesEnd = varint() + at;
  if (propertiesEnd > packet.length) fail("properties longer than the packet");
  let topicAlias: number | undefined;
  while (at < propertiesEnd) {
    const id = varint();
    switch (id) {
      case 0x01: // payload format indicator
        at += 1;
        break;
      case 0x02: // message expiry interval
        at += 4;
        break;
      case 0x23: // topic alias
        topicAlias = u16();
        break;
      case 0x03: // content type
      case 0x08: // response topic
      case 0x09: // correlation data
        skipString();
        break;
      case 0x26: // user property: a string pair
        skipString();
        skipString();
        break;
      case 0x0b: // subscription identifier
        varint();
        break;
      default:
        fail(`unknown property 0x${id.toString(16)}`);
    }
  }
  if (at !== propertiesEnd) fail("properties overrun");
  return {
    topic,
    payload: packet.slice(at),
    qos,
    dup: (flags & 0x08) !== 0,
    retain: (flags & 0x01) !== 0,
    ...(packetId !== undefined ? { packetId } : {}),
    ...(topicAlias !== undefined ? { topicAlias } : {}),
  };
}
