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
  | ReverseOperation
  | ShipOperation;

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

/**
 * Lot shipped to another plant (stock transfer out). Decodes to one LOT_SHIPPED for the lot and
 * quantity, correlationId = shipment (the transfer's reference), destination.plantId = toPlant.
 */
export interface ShipOperation extends OperationBase {
  kind: "ship";
  lot: string;
  quantity: number;
  shipment: string;
  toPlant: string;
}

/** One lot an ERP holds, as its stock report lists it. */
export interface StockLine {
  lotId: string;
  material: string;
  /** On hand. */
  quantity: number;
  /** UN/ECE Rec 20 code. */
  uom: string;
}

/** How a simulated ERP decides on a command from the centre. */
export type CommandDecision = { accept: true } | { accept: false; reason: string };

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
  /**
   * How this ERP answers a command it received from the centre, as the native document it would
   * then emit. `command` is the body the plugin's `encode` made. Accepted: the posting, which
   * decodes to LOT_RECEIVED (RECEIVE_LOT), LOT_CREATED (CREATE_LOT) or LOT_ADJUSTED
   * (ADJUST_LOT) for the command's lot, quantity and uom, correlationId = the command's
   * correlationId. Rejected: the ERP's error report, which decodes to COMMAND_REJECTED with
   * correlationId = the command id and `payload.reason`. REPORT_LOTS accepted: the ERP's stock
   * report of `ctx.stock` (the lots it holds), which decodes to one LOT_STOCK_REPORTED per line
   * (lotId, material, quantity on hand, uom; correlationId = the command id; `payload.line` =
   * 1-based line number, `payload.lines` = number of lines), or, for an empty report, one event
   * with lotId and material "*", quantity 0 and `payload.lines` = 0.
   */
  answer?(
    command: unknown,
    decision: CommandDecision,
    ctx: SimulationContext & { docNo: number; at: Date; stock?: readonly StockLine[] },
  ): unknown;
}
