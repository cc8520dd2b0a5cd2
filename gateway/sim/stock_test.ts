import assert from "node:assert/strict";
import type { LotOperation } from "../core/simulation.ts";
import { stockOf } from "./stock.ts";

const base = { at: new Date(0), material: "M1", uom: "KGM" };

Deno.test("a simulated ERP's stock follows what it posted", () => {
  const produce = { ...base, kind: "produce", docNo: 2, lot: "L2", quantity: 10, order: "O1" };
  const consume = { ...base, kind: "consume", docNo: 6, lot: "L2", quantity: 4, order: "O2" };
  const ops: LotOperation[] = [
    {
      ...base,
      kind: "receive",
      docNo: 1,
      lot: "L1",
      quantity: 100,
      supplier: "S",
      purchaseOrder: "P",
    },
    produce as LotOperation,
    {
      ...base,
      kind: "split",
      docNo: 3,
      parent: "L1",
      children: [{ lot: "L3", quantity: 60 }, { lot: "L4", quantity: 40 }],
    },
    {
      ...base,
      kind: "merge",
      docNo: 4,
      parents: [{ lot: "L3", quantity: 60 }, { lot: "L2", quantity: 5 }],
      child: "L5",
    },
    { ...base, kind: "stage", docNo: 5, lot: "L4", quantity: 40, order: "O2" },
    consume as LotOperation,
    {
      ...base,
      kind: "reverse",
      docNo: 7,
      original: consume as Extract<LotOperation, { kind: "consume" }>,
    },
    { ...base, kind: "ship", docNo: 8, lot: "L4", quantity: 15.5, shipment: "T1", toPlant: "B" },
  ];
  assert.deepEqual(stockOf(ops), [
    { lotId: "L2", material: "M1", quantity: 5, uom: "KGM" },
    { lotId: "L4", material: "M1", quantity: 24.5, uom: "KGM" },
    { lotId: "L5", material: "M1", quantity: 65, uom: "KGM" },
  ]);
});
