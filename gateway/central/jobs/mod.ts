/**
 * The job order state machine (OPC 40001-3 / ISA-95 Job Control v2): states and numbers, the
 * transition table, ReturnStatus codes and {@linkcode applyMethod}. Pure; see README.md.
 *
 * @module
 */
export * from "./return_status.ts";
export * from "./states.ts";
export * from "./job_order.ts";
export * from "./transitions.ts";
export * from "./state_machine.ts";
