import type { LotOperation, StockLine } from "../core/simulation.ts";

/**
 * What a simulated ERP holds after posting `ops`: on-hand per lot (receipts and production add,
 * splits and merges move, consumption and shipments take, reversals undo), the lots with stock
 * left, in lot order. Quantities are rounded to 3 decimals, as ERPs keep them.
 */
export function stockOf(ops: Iterable<LotOperation>): StockLine[] {
  const lots = new Map<string, StockLine>();
  const add = (lot: string, op: LotOperation, quantity: number) => {
    const line = lots.get(lot) ?? { lotId: lot, material: op.material, quantity: 0, uom: op.uom };
    line.quantity = Math.round((line.quantity + quantity) * 1000) / 1000;
    lots.set(lot, line);
  };
  const post = (op: LotOperation, sign: 1 | -1) => {
    switch (op.kind) {
      case "receive":
      case "produce":
        return add(op.lot, op, sign * op.quantity);
      case "consume":
      case "ship":
        return add(op.lot, op, -sign * op.quantity);
      case "split":
        for (const child of op.children) {
          add(op.parent, op, -sign * child.quantity);
          add(child.lot, op, sign * child.quantity);
        }
        return;
      case "merge":
        for (const parent of op.parents) {
          add(parent.lot, op, -sign * parent.quantity);
          add(op.child, op, sign * parent.quantity);
        }
        return;
      case "reverse":
        return post(op.original, -1);
      case "stage":
        return; // moves stock to the supply area; the lot keeps it
    }
  };
  for (const op of ops) post(op, 1);
  return [...lots.values()].filter((l) => l.quantity > 0)
    .sort((a, b) => a.lotId < b.lotId ? -1 : a.lotId > b.lotId ? 1 : 0);
}
