import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import type { Plugin } from "../core/plugin.ts";
import type { LotOperation, SimulationContext } from "../core/simulation.ts";
import { generateOperations, seededRandom } from "./scenario.ts";

/** What kind of message the simulator sent. */
export type SentKind = "document" | "resend" | "malformed";

/** One message the simulator published (kept for test oracles and the summary). */
export interface SentMessage {
  kind: SentKind;
  topic: string;
  payload: Uint8Array;
  /** The operation rendered (documents and re-sends). */
  op?: LotOperation;
  /** What is wrong with a malformed message. */
  defect?: string;
}

/** Options of {@linkcode planTraffic}. */
export interface TrafficOptions {
  plugin: Plugin;
  context: SimulationContext;
  /** Messages to produce in total (documents + re-sends + malformed). */
  count: number;
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Share of messages that re-send an earlier document unchanged. Default 0.02. */
  resendRatio?: number;
  /** Share of malformed messages. Default 0.01. */
  malformedRatio?: number;
  /** Size of the "huge payload" malformed kind. Default 1.2 MiB (over the 1 MiB default limit). */
  hugeBytes?: number;
  /** First lot/document number (keep plants apart). Default 1. */
  firstNumber?: number;
  /**
   * Plants (plantgate ids) this plant ships lots to: mixes in ship operations of lots the plan
   * created, each to one of them (this plant itself is skipped). Shipment references are
   * `46` + the 8-digit document number, so plants need apart `firstNumber`s. Default (or
   * empty): no shipments, and the traffic is exactly what it is without this option.
   */
  shipTo?: readonly string[];
  /**
   * With `shipTo`: the chance that a document number the lot history left free (the numbers its
   * new lots took) carries a shipment. Default 0.1 (about 5% of the documents).
   */
  shipRatio?: number;
}

const encoder = new TextEncoder();

function malformed(
  random: () => number,
  plugin: Plugin,
  ctx: SimulationContext,
  index: number,
  hugeBytes: number,
): { payload: Uint8Array; defect: string } {
  const roll = random();
  if (roll < 0.25) {
    return {
      payload: encoder.encode(`{"truncated": ${index}, "doc": {"items": [`),
      defect: "invalid JSON",
    };
  }
  if (roll < 0.4) {
    const bytes = encoder.encode(`{"seq": ${index}, "text": "caf\u00e9"}`);
    const bad = Uint8Array.from([0xff, 0xfe, ...bytes]);
    return { payload: bad, defect: "not UTF-8" };
  }
  if (roll < 0.47) {
    const filler = "x".repeat(hugeBytes);
    return {
      payload: encoder.encode(JSON.stringify({ seq: index, filler })),
      defect: "huge payload",
    };
  }
  if (plugin.simulator) {
    const body = plugin.simulator.malformed(random(), ctx) as Record<string, unknown>;
    // The index keeps every malformed message distinct (dead letters dedupe by bytes).
    const payload = encoder.encode(JSON.stringify({ ...body, _simSeq: index }));
    return { payload, defect: "plugin-level defect" };
  }
  return { payload: encoder.encode(`[${index}, "not a document"]`), defect: "wrong shape" };
}

/** Lots the planned history created, with what is left of them after shipments. */
type Stock = Map<string, { material: string; uom: string; quantity: number }>;

/** Keeps `stock` in step with one operation: new lots in, merged and used-up lots out. */
function trackStock(stock: Stock, op: LotOperation): void {
  const add = (lot: string, quantity: number) =>
    stock.set(lot, { material: op.material, uom: op.uom, quantity });
  const take = (lot: string, quantity: number) => {
    const held = stock.get(lot);
    if (held && (held.quantity -= quantity) < 2) stock.delete(lot);
  };
  if (op.kind === "receive" || op.kind === "produce") add(op.lot, op.quantity);
  else if (op.kind === "split") {
    for (const child of op.children) {
      take(op.parent, child.quantity);
      add(child.lot, child.quantity);
    }
  } else if (op.kind === "merge") {
    for (const parent of op.parents) stock.delete(parent.lot);
    add(op.child, op.parents.reduce((sum, p) => sum + p.quantity, 0));
  } else if (op.kind === "consume" || op.kind === "ship") take(op.lot, op.quantity);
  // Keep the choice among recent lots, as the history does.
  if (stock.size > 400) stock.delete(stock.keys().next().value!);
}

/**
 * The generated history with ship operations mixed in. A shipment takes a document number the
 * history left free and a time between its neighbours, so numbers and times stay unique and
 * increasing; it ships part of what is left of a lot the plan created. Its own PRNG leaves the
 * history untouched.
 */
function withShipments(
  ops: Iterator<LotOperation>,
  options: TrafficOptions & { shipTo: readonly string[] },
): () => LotOperation {
  const targets = options.shipTo.filter((p) => p !== options.context.plantId);
  if (targets.length === 0) {
    throw new TypeError(`shipTo names no plant other than "${options.context.plantId}"`);
  }
  const random = seededRandom((options.seed ?? 1) * 104_729 + 17);
  const ratio = options.shipRatio ?? 0.1;
  const stock: Stock = new Map();
  let ahead = ops.next().value as LotOperation;
  let last: LotOperation | undefined;
  return () => {
    let op: LotOperation;
    if (last && ahead.docNo > last.docNo + 1 && stock.size > 0 && random() < ratio) {
      const lots = [...stock.keys()];
      const lot = lots[Math.floor(random() * lots.length)];
      const { material, uom, quantity: left } = stock.get(lot)!;
      const docNo = last.docNo + 1;
      const from = last.at.getTime();
      const whole = Math.floor((from + ahead.at.getTime()) / 2000) * 1000;
      op = {
        kind: "ship",
        docNo,
        at: new Date(whole > from ? whole : (from + ahead.at.getTime()) / 2),
        material,
        uom,
        lot,
        quantity: Math.max(1, Math.floor(left * (0.2 + random() * 0.3))),
        shipment: `46${String(docNo % 100_000_000).padStart(8, "0")}`,
        toPlant: targets[Math.floor(random() * targets.length)],
      };
    } else {
      op = ahead;
      ahead = ops.next().value as LotOperation;
    }
    trackStock(stock, op);
    last = op;
    return op;
  };
}

/**
 * Plans a simulated native traffic stream for one plant ERP, without sending it: documents
 * rendered by the plugin's simulator from a generated lot history, with occasional unchanged
 * re-sends of earlier documents and malformed messages, and, with `shipTo`, shipments of its
 * lots to other plants. Deterministic for a seed.
 */
export function planTraffic(options: TrafficOptions): SentMessage[] {
  const { plugin, context } = options;
  if (!plugin.simulator) throw new TypeError(`Plugin "${plugin.name}" has no simulator`);
  const random = seededRandom((options.seed ?? 1) * 7919);
  const topic = `plant/${context.plantId}/erp/${context.system}/lot/events`;
  const ops = generateOperations({ seed: options.seed ?? 1, firstNumber: options.firstNumber });
  const nextOp = options.shipTo?.length
    ? withShipments(ops, { ...options, shipTo: options.shipTo })
    : () => ops.next().value as LotOperation;
  const sent: SentMessage[] = [];
  const documents: SentMessage[] = [];
  for (let i = 0; i < options.count; i++) {
    const roll = random();
    if (roll < (options.malformedRatio ?? 0.01)) {
      const bad = malformed(random, plugin, context, i, options.hugeBytes ?? 1.2 * 1024 * 1024);
      sent.push({ kind: "malformed", topic, ...bad });
    } else if (
      roll < (options.malformedRatio ?? 0.01) + (options.resendRatio ?? 0.02) && documents.length
    ) {
      const original = documents[Math.max(0, documents.length - 1 - Math.floor(random() * 50))];
      sent.push({ ...original, kind: "resend" });
    } else {
      const op = nextOp();
      const payload = encoder.encode(JSON.stringify(plugin.simulator.render(op, context)));
      const message: SentMessage = { kind: "document", topic, payload, op };
      documents.push(message);
      sent.push(message);
    }
  }
  return sent;
}

/** Options of {@linkcode publishTraffic}. */
export interface PublishOptions {
  /** Plant broker, `mqtt://host:port`. */
  url: string;
  /** Messages per second; 0 = as fast as the broker acknowledges. Default 0. */
  rate?: number;
  /** Most unacknowledged publishes at once. Default 500. */
  maxInFlight?: number;
  /** Called about every 500 ms with the number sent so far. */
  onProgress?: (sent: number) => void;
  /** Called right before message `index` is published (latency measurements). */
  onPublish?: (index: number) => void;
  signal?: AbortSignal;
  clientId?: string;
}

/**
 * Publishes planned messages in order with QoS 1 (MQTT v5), as an ERP bridge would, pacing to
 * `rate`. Resolves when the broker acknowledged every message (it survives broker restarts:
 * unacknowledged messages are re-sent on reconnect).
 */
export async function publishTraffic(
  messages: SentMessage[],
  options: PublishOptions,
): Promise<void> {
  const client = await mqtt.connectAsync(options.url, {
    protocolVersion: 5,
    clientId: options.clientId ?? `plantgate-sim-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 250,
    connectTimeout: 5_000,
  });
  const maxInFlight = options.maxInFlight ?? 500;
  const inFlight = new Set<Promise<unknown>>();
  const started = performance.now();
  let lastProgress = started;
  try {
    for (let i = 0; i < messages.length; i++) {
      options.signal?.throwIfAborted();
      if (options.rate) {
        const due = started + (i * 1000) / options.rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      options.onPublish?.(i);
      const p = client.publishAsync(messages[i].topic, Buffer.from(messages[i].payload), {
        qos: 1,
      });
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
      if (options.onProgress && performance.now() - lastProgress > 500) {
        lastProgress = performance.now();
        options.onProgress(i + 1);
      }
    }
    await Promise.all(inFlight);
    options.onProgress?.(messages.length);
  } finally {
    await client.endAsync();
  }
}
