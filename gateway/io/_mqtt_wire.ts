import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { PlantgateError } from "../core/errors.ts";

const V5 = { protocolVersion: 5 };

/** Where an `mqtt://` URL points. */
export interface MqttTarget {
  hostname: string;
  port: number;
}

/** Host and port of an `mqtt://host[:port]` URL (port default 1883); throws on anything else. */
export function parseMqttUrl(url: string): MqttTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PlantgateError(
      "config_invalid",
      `Cannot use MQTT url "${url}": not a URL (expected mqtt://host:port)`,
    );
  }
  if (parsed.protocol !== "mqtt:") {
    throw new PlantgateError(
      "config_invalid",
      `Cannot use MQTT url "${url}": it must start with mqtt:// (got ${parsed.protocol}//)`,
    );
  }
  if (!parsed.hostname) {
    throw new PlantgateError("config_invalid", `Cannot use MQTT url "${url}": no host`);
  }
  const port = parsed.port ? Number(parsed.port) : 1883;
  return { hostname: parsed.hostname.replace(/^\[|\]$/g, ""), port };
}

/** PUBACKs (reason 0) for these packet ids, in this order, as one write. */
export function encodePubacks(packetIds: number[]): Uint8Array {
  return Buffer.concat(
    packetIds.map((messageId) => mqttPacket.generate({ cmd: "puback", messageId }, V5)),
  );
}

const REASONS: Record<number, string> = {
  0x80: "Unspecified error",
  0x81: "Malformed Packet",
  0x82: "Protocol Error",
  0x83: "Implementation specific error",
  0x84: "Unsupported Protocol Version",
  0x85: "Client Identifier not valid",
  0x86: "Bad User Name or Password",
  0x87: "Not authorized",
  0x88: "Server unavailable",
  0x89: "Server busy",
  0x8a: "Banned",
  0x8b: "Server shutting down",
  0x8c: "Bad authentication method",
  0x8d: "Keep Alive timeout",
  0x8e: "Session taken over",
  0x8f: "Topic Filter invalid",
  0x93: "Receive Maximum exceeded",
  0x94: "Topic Alias invalid",
  0x95: "Packet too large",
  0x97: "Quota exceeded",
  0x98: "Administrative action",
  0x9c: "Use another server",
  0x9d: "Server moved",
  0x9e: "Shared Subscriptions not supported",
  0x9f: "Connection rate exceeded",
  0xa0: "Maximum connect time",
  0xa2: "Wildcard Subscriptions not supported",
};

/** `135 (Not authorized)`: an MQTT v5 reason code as operators read it in a log line. */
export function describeReason(code: number): string {
  const name = REASONS[code];
  return name ? `${code} (${name})` : String(code);
}

/**
 * One TCP connection speaking MQTT v5. Reading is pull-based: while `afterChunk` is pending
 * nothing more is read, so the broker is slowed down by TCP backpressure. Writes go through
 * one stream writer, so they reach the socket in call order and each awaits the socket.
 */
export class MqttWire {
  readonly #conn: Deno.TcpConn;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #aliases = new Map<number, string>();
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#writer = conn.writable.getWriter();
  }

  /** Opens a TCP connection (no MQTT traffic yet). */
  static async open(target: MqttTarget): Promise<MqttWire> {
    const conn = await Deno.connect({ hostname: target.hostname, port: target.port });
    conn.setNoDelay(true);
    return new MqttWire(conn);
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads until the socket ends, fails or is closed. Each decoded packet goes to `onPacket`
   * (a throw ends the reading with that error); `afterChunk` runs after each socket read and
   * may pause the reading by returning a promise. Resolves on a clean end, rejects otherwise.
   */
  async read(
    onPacket: (packet: Packet) => void,
    afterChunk: () => Promise<void> | void,
  ): Promise<void> {
    const parser = mqttPacket.parser(V5);
    let failure: unknown;
    parser.on("packet", (packet: Packet) => {
      if (failure !== undefined) return;
      try {
        onPacket(this.#resolveAlias(packet));
      } catch (error) {
        failure = error;
      }
    });
    parser.on("error", (error: Error) => {
      failure ??= new Error(`malformed packet from the broker: ${error.message}`);
    });
    try {
      for await (const chunk of this.#conn.readable) {
        parser.parse(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if (failure !== undefined) throw failure;
        await afterChunk();
        if (this.#closed) return;
      }
    } catch (error) {
      if (this.#closed && failure === undefined) return;
      throw error;
    }
  }

  /** Encodes and writes one packet. */
  send(packet: Packet): Promise<void> {
    return this.write(mqttPacket.generate(packet, V5));
  }

  /** Writes bytes; resolves once the socket took them. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("MQTT connection is closed"));
    return this.#writer.write(bytes);
  }

  /** Closes the socket (idempotent); a pending read() then resolves. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.releaseLock();
    try {
      this.#conn.close();
    } catch { /* already closed by the peer */ }
  }

  /**
   * We never advertise a Topic Alias Maximum, so a broker must not use aliases; if one does
   * anyway, honour them rather than mis-file messages under an empty topic.
   */
  #resolveAlias(packet: Packet): Packet {
    if (packet.cmd !== "publish") return packet;
    const alias = packet.properties?.topicAlias;
    if (alias === undefined) return packet;
    if (packet.topic) {
      this.#aliases.set(alias, packet.topic);
      return packet;
    }
    const topic = this.#aliases.get(alias);
    if (topic === undefined) throw new Error(`broker used unknown topic alias ${alias}`);
    return { ...packet, topic };
  }
}
