/**
 * The abstract lot operations the simulator generates. Each ERP plugin renders an operation as
 * one native document (its `simulator.render`), exactly as that ERP would emit it; decoding
 * that document must give the canonical events listed per kind below.
 */
export type LotOperation =
  | ReceiveOperation
  | ProduceOperation
  | SplitOperation
  | MergeOperation
  | StageOperation
  | ConsumeOperation
  | ReverseOperation;

/** Fields every operation has. */
export interface OperationBase {
  /** Document number, unique and increasing within one simulator run (use it for MBLNR, ControlNumber, BODID, ...). */
  docNo: number;
  /** When it happened at the source. */
  at: Date;
  material: string;
  /** UN/ECE Rec 20 code; a plugin renders it in its ERP's own unit spelling. */
  uom: string;
}

/** Goods receipt from a supplier. Decodes to one LOT_RECEIVED, correlationId = purchaseOrder. */
export interface ReceiveOperation extends OperationBase {
  kind: "receive";
  lot: string;
  quantity: number;
  supplier: string;
  purchaseOrder: string;
}

/** Production output posted against an order. Decodes to one LOT_CREATED, correlationId = order. */
export interface ProduceOperation extends OperationBase {
  kind: "produce";
  lot: string;
  quantity: number;
  order: string;
}

/**
 * One lot split into several. Decodes to one LOT_SPLIT per child: lotId = child, quantity = the
 * child's quantity, parents = [{ lotId: parent, quantity: child's quantity, uom }].
 */
export interface SplitOperation extends OperationBase {
  kind: "split";
  parent: string;
  children: { lot: string; quantity: number }[];
}

/**
 * Several lots merged into one. Decodes to one LOT_MERGED: lotId = child, quantity = sum,
 * parents = [{ lotId, quantity, uom }] in the given order.
 */
export interface MergeOperation extends OperationBase {
  kind: "merge";
  parents: { lot: string; quantity: number }[];
  child: string;
}

/** Lot moved to the production supply area for an order. Decodes to one LOT_STAGED, correlationId = order. */
export interface StageOperation extends OperationBase {
  kind: "stage";
  lot: string;
  quantity: number;
  order: string;
}

/** Lot consumed by an order. Decodes to one LOT_CONSUMED, correlationId = order. */
export interface ConsumeOperation extends OperationBase {
  kind: "consume";
  lot: string;
  quantity: number;
  order: string;
}

/**
 * Reversal (cancellation) of an earlier stage, consume or produce document. Decodes to one
 * LOT_REVERSED for the original lot and quantity, correlationId = the original's order.
 */
export interface ReverseOperation extends OperationBase {
  kind: "reverse";
  original: StageOperation | ConsumeOperation | ProduceOperation;
}

/** Where the simulator runs, for plugins that need it to render a document. */
export interface SimulationContext {
  plantId: string;
  /** Source system name, the `<system>` topic segment. */
  system: string;
  /** The plant's IANA time zone (SAP renders local times). */
  timeZone: string;
}

/** A plugin's simulator: renders operations as native documents. */
export interface ErpSimulator {
  /** One native document (a JSON value) for the operation. */
  render(op: LotOperation, ctx: SimulationContext): unknown;
  /**
   * A plugin-specific malformed document (unknown movement type, missing batch, wrong field
   * type, ...): valid JSON that `decode` must reject. `pick` is a random number in [0, 1).
   */
  malformed(pick: number, ctx: SimulationContext): unknown;
}
