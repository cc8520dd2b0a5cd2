import type {
  ConsumeOperation,
  LotOperation,
  ProduceOperation,
  StageOperation,
} from "../core/simulation.ts";

/** A small seeded PRNG (mulberry32): the same seed always gives the same scenario. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface LotState {
  lot: string;
  material: string;
  uom: string;
  quantity: number;
}

/** Options of {@linkcode generateOperations}. */
export interface ScenarioOptions {
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Time of the first operation. Default 2026-03-15T06:00:00Z. */
  start?: Date;
  /** Time between operations. Default 7 s. */
  stepMs?: number;
  /** First lot and document numbers (keep plants apart). Default 1. */
  firstNumber?: number;
}

const MATERIALS: readonly { material: string; uom: string }[] = [
  { material: "100200", uom: "KGM" },
  { material: "100300", uom: "KGM" },
  { material: "200100", uom: "LTR" },
  { material: "300500", uom: "H87" },
];

/**
 * An endless, plausible lot history: receipts and production create lots; lots are split,
 * merged, staged for orders, consumed, and some stagings/consumptions/productions are
 * reversed. Quantities never go negative and merged lots share a material.
 */
export function* generateOperations(options: ScenarioOptions = {}): Generator<LotOperation> {
  const random = seededRandom(options.seed ?? 1);
  const stepMs = options.stepMs ?? 7_000;
  let clock = (options.start ?? new Date("2026-03-15T06:00:00Z")).getTime();
  let counter = options.firstNumber ?? 1;
  const lots: LotState[] = [];
  const reversible: (StageOperation | ConsumeOperation | ProduceOperation)[] = [];
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const newLot = () => `L${String(counter++).padStart(9, "0")}`;
  const order = () => String(1_000_000 + Math.floor(random() * 500));

  for (;;) {
    const docNo = counter++;
    const at = new Date(clock += stepMs);
    const roll = random();
    const source = lots.length > 0 ? pick(lots) : undefined;
    let op: LotOperation;
    if (!source || lots.length < 6 || roll < 0.22) {
      const { material, uom } = pick(MATERIALS);
      const quantity = 100 + Math.floor(random() * 900);
      const lot = newLot();
      lots.push({ lot, material, uom, quantity });
      op = random() < 0.5
        ? {
          kind: "receive",
          docNo,
          at,
          material,
          uom,
          lot,
          quantity,
          supplier: `V${1000 + Math.floor(random() * 20)}`,
          purchaseOrder: String(4_500_000_000 + docNo),
        }
        : { kind: "produce", docNo, at, material, uom, lot, quantity, order: order() };
      if (op.kind === "produce") reversible.push(op);
    } else if (roll < 0.36 && source.quantity >= 4) {
      const n = 2 + Math.floor(random() * 2);
      const share = Math.floor(source.quantity / (n + 1));
      const children = Array.from({ length: n }, () => ({ lot: newLot(), quantity: share }));
      source.quantity -= share * n;
      for (const c of children) {
        lots.push({ lot: c.lot, material: source.material, uom: source.uom, quantity: c.quantity });
      }
      op = {
        kind: "split",
        docNo,
        at,
        material: source.material,
        uom: source.uom,
        parent: source.lot,
        children,
      };
    } else if (roll < 0.46) {
      const same = lots.filter((l) => l.material === source.material && l.quantity > 0);
      if (same.length < 2) continue;
      const inputs = same.slice(0, 2 + Math.floor(random() * Math.min(2, same.length - 1)));
      const child = newLot();
      const parents = inputs.map((l) => ({ lot: l.lot, quantity: l.quantity }));
      const total = inputs.reduce((sum, l) => sum + l.quantity, 0);
      for (const l of inputs) lots.splice(lots.indexOf(l), 1);
      lots.push({ lot: child, material: source.material, uom: source.uom, quantity: total });
      op = { kind: "merge", docNo, at, material: source.material, uom: source.uom, parents, child };
    } else if (roll < 0.66 && source.quantity > 0) {
      const quantity = Math.max(1, Math.floor(source.quantity / 2));
      op = {
        kind: "stage",
        docNo,
        at,
        material: source.material,
        uom: source.uom,
        lot: source.lot,
        quantity,
        order: order(),
      };
      reversible.push(op);
    } else if (roll < 0.9 && source.quantity > 0) {
      const quantity = Math.max(1, Math.floor(source.quantity * (0.2 + random() * 0.5)));
      source.quantity -= quantity;
      op = {
        kind: "consume",
        docNo,
        at,
        material: source.material,
        uom: source.uom,
        lot: source.lot,
        quantity,
        order: order(),
      };
      reversible.push(op);
    } else if (reversible.length > 0) {
      const original = reversible.splice(Math.floor(random() * reversible.length), 1)[0];
      op = { kind: "reverse", docNo, at, material: original.material, uom: original.uom, original };
    } else {
      continue;
    }
    if (lots.length > 400) lots.splice(0, lots.length - 400);
    yield op;
  }
}
