/**
 * The transition table of the job order state machine: for every state a job order can be in and
 * every event, either the transition (target state, spec transition name and number) or the
 * ReturnStatus the spec gives for refusing it. {@linkcode lookup} is the only way the state
 * machine decides anything.
 *
 * Events are the eleven methods of ISA95JobOrderReceiverObjectType (§6.2.1.3-6.2.1.13) and the
 * internal transitions the system itself causes, named as the spec names them (Table 14 and the
 * substate machines' tables): the DCS reports execution started (`FromAllowedToStartToRunning`),
 * interrupted by a constraint (`FromRunningToInterrupted`, lands in Held) and finished
 * (`FromRunningToEnded`), and moves substates (`FromWaitingToReady`, ...). There are no
 * other names: microdcs's SFC engine called a non-existent `End` trigger and jobs stayed Running.
 *
 * Choices where the spec is silent: Store enters the Ready substate (as microdcs does); Update,
 * Start and RevokeStart keep the prepare substate (the spec's Update is a self-transition, and
 * permission to start does not change whether pre-conditions are met); Pause lands in Suspended
 * ("deliberate decision"), an internal interruption in Held ("constraint"); Stop and an internal
 * finish land in Completed.
 *
 * @module
 */
import {
  INVALID_JOB_ORDER_STATUS,
  type ReturnStatus,
  UNABLE_TO_ACCEPT_JOB_ORDER,
  UNKNOWN_JOB_ORDER_ID,
} from "./return_status.ts";
import { type InitialState, type JobState, SPEC_STATES, type Substate } from "./states.ts";

/** The job control methods an MES (or the processor on the DCS's behalf) calls. */
export const JOB_METHODS = [
  "Store",
  "StoreAndStart",
  "Update",
  "Start",
  "RevokeStart",
  "Pause",
  "Resume",
  "Stop",
  "Abort",
  "Cancel",
  "Clear",
] as const;

/** A job control method. */
export type JobMethod = typeof JOB_METHODS[number];

/** Transitions the system causes without a method call, by their spec names. */
export const INTERNAL_TRANSITIONS = [
  "FromAllowedToStartToRunning",
  "FromRunningToInterrupted",
  "FromRunningToEnded",
  "FromWaitingToReady",
  "FromReadyToLoaded",
  "FromReadyToWaiting",
  "FromLoadedToReady",
  "FromLoadedToWaiting",
  "FromHeldToSuspended",
  "FromSuspendedToHeld",
  "FromCompletedToClosed",
] as const;

/** An internal transition. */
export type InternalTransition = typeof INTERNAL_TRANSITIONS[number];

/** Anything that may move a job order: a method or an internal transition. */
export type JobEvent = JobMethod | InternalTransition;

/** Every event, methods first. */
export const JOB_EVENTS: readonly JobEvent[] = [...JOB_METHODS, ...INTERNAL_TRANSITIONS];

/** The events that carry a whole JobOrder instead of a JobOrderID. */
export const ORDER_EVENTS: ReadonlySet<JobEvent> = new Set(["Store", "StoreAndStart", "Update"]);

/** Whether `name` is an event this state machine knows. */
export function isJobEvent(name: unknown): name is JobEvent {
  return (JOB_EVENTS as readonly unknown[]).includes(name);
}

/**
 * Which state machine a transition belongs to: the job order's own (Table 14), one of the
 * substate machines, or "dotted" for the spec's InitialState/EndState transitions, which have
 * no number and for which the spec defines no status event.
 */
export type TransitionMachine = "JobOrder" | "Prepare" | "Interrupted" | "Ended" | "Dotted";

/** An allowed cell of the table. */
export interface Rule {
  /** Only from this substate (substate transitions); any substate when absent. */
  readonly fromSubstate?: Substate;
  readonly to: JobState;
  /** The substate entered; "keep" keeps the current one; null for states without substates. */
  readonly toSubstate: Substate | "keep" | null;
  readonly machine: TransitionMachine;
  /** The spec's transition name (the method name for dotted transitions). */
  readonly name: string;
  /** TransitionNumber, local to `machine`; null for dotted transitions. */
  readonly number: number | null;
}

/** A cell: the rule, or the ReturnStatus for refusing the event in that state. */
export type Cell = Rule | ReturnStatus;

/** Where the table's rows start: InitialState (no record yet) or a stored job order's state. */
export type TableState = InitialState | JobState;

/** The table's rows, InitialState first. */
export const TABLE_STATES: readonly TableState[] = ["InitialState", ...SPEC_STATES, "EndState"];

function rule(to: JobState, toSubstate: Rule["toSubstate"], name: string, number: number): Rule {
  return { to, toSubstate, machine: "JobOrder", name, number };
}

function dotted(to: JobState, toSubstate: Rule["toSubstate"], name: string): Rule {
  return { to, toSubstate, machine: "Dotted", name, number: null };
}

function sub(
  state: JobState,
  machine: TransitionMachine,
  from: Substate,
  to: Substate,
  number: number,
): Rule {
  return {
    fromSubstate: from,
    to: state,
    toSubstate: to,
    machine,
    name: `From${from}To${to}`,
    number,
  };
}

/** The prepare substate transitions (§6.2.3) inside `state`. */
function prepare(state: JobState): Partial<Record<JobEvent, Cell>> {
  return {
    FromWaitingToReady: sub(state, "Prepare", "Waiting", "Ready", 1),
    FromReadyToLoaded: sub(state, "Prepare", "Ready", "Loaded", 2),
    FromReadyToWaiting: sub(state, "Prepare", "Ready", "Waiting", 3),
    FromLoadedToReady: sub(state, "Prepare", "Loaded", "Ready", 4),
    FromLoadedToWaiting: sub(state, "Prepare", "Loaded", "Waiting", 5),
  };
}

/** A stored job order's ID is taken: Store and StoreAndStart cannot accept it again. */
const TAKEN: Partial<Record<JobEvent, Cell>> = {
  Store: UNABLE_TO_ACCEPT_JOB_ORDER,
  StoreAndStart: UNABLE_TO_ACCEPT_JOB_ORDER,
};

interface Row {
  readonly cells: Partial<Record<JobEvent, Cell>>;
  /** The ReturnStatus of every event not in `cells`. */
  readonly otherwise: ReturnStatus;
}

/**
 * The table as written: allowed transitions (spec Table 14 numbers) and explicit refusals;
 * every other event in a row is refused with the row's `otherwise` status. EndState answers
 * like an unknown ID (the spec removes the order from the JobOrderList) except that its ID stays
 * taken while the record exists, so a late duplicate Store cannot resurrect a cleared job.
 */
const ROWS: Readonly<Record<TableState, Row>> = {
  InitialState: {
    cells: {
      Store: dotted("NotAllowedToStart", "Ready", "Store"),
      StoreAndStart: dotted("AllowedToStart", "Ready", "StoreAndStart"),
    },
    otherwise: UNKNOWN_JOB_ORDER_ID,
  },
  NotAllowedToStart: {
    cells: {
      ...TAKEN,
      Update: rule("NotAllowedToStart", "keep", "FromNotAllowedToStartToNotAllowedToStart", 1),
      Start: rule("AllowedToStart", "keep", "FromNotAllowedToStartToAllowedToStart", 2),
      Abort: rule("Aborted", null, "FromNotAllowedToStartToAborted", 12),
      Cancel: dotted("EndState", null, "Cancel"),
      ...prepare("NotAllowedToStart"),
    },
    otherwise: INVALID_JOB_ORDER_STATUS,
  },
  AllowedToStart: {
    cells: {
      ...TAKEN,
      RevokeStart: rule("NotAllowedToStart", "keep", "FromAllowedToStartToNotAllowedToStart", 3),
      Update: rule("AllowedToStart", "keep", "FromAllowedToStartToAllowedToStart", 4),
      FromAllowedToStartToRunning: rule("Running", null, "FromAllowedToStartToRunning", 5),
      Abort: rule("Aborted", null, "FromAllowedToStartToAborted", 13),
      Cancel: dotted("EndState", null, "Cancel"),
      ...prepare("AllowedToStart"),
    },
    otherwise: INVALID_JOB_ORDER_STATUS,
  },
  Running: {
    cells: {
      ...TAKEN,
      Pause: rule("Interrupted", "Suspended", "FromRunningToInterrupted", 6),
      FromRunningToInterrupted: rule("Interrupted", "Held", "FromRunningToInterrupted", 6),
      Stop: rule("Ended", "Completed", "FromRunningToEnded", 7),
      FromRunningToEnded: rule("Ended", "Completed", "FromRunningToEnded", 7),
      Abort: rule("Aborted", null, "FromRunningToAborted", 8),
    },
    otherwise: INVALID_JOB_ORDER_STATUS,
  },
  Interrupted: {
    cells: {
      ...TAKEN,
      Abort: rule("Aborted", null, "FromInterruptedToAborted", 9),
      Resume: rule("Running", null, "FromInterruptedToRunning", 10),
      Stop: rule("Ended", "Completed", "FromInterruptedToEnded", 11),
      FromHeldToSuspended: sub("Interrupted", "Interrupted", "Held", "Suspended", 1),
      FromSuspendedToHeld: sub("Interrupted", "Interrupted", "Suspended", "Held", 2),
    },
    otherwise: INVALID_JOB_ORDER_STATUS,
  },
  Ended: {
    cells: {
      ...TAKEN,
      Clear: dotted("EndState", null, "Clear"),
      FromCompletedToClosed: sub("Ended", "Ended", "Completed", "Closed", 1),
    },
    otherwise: INVALID_JOB_ORDER_STATUS,
  },
  Aborted: {
    cells: { ...TAKEN, Clear: dotted("EndState", null, "Clear") },
    otherwise: INVALID_JOB_ORDER_STATUS,
  },
  EndState: { cells: { ...TAKEN }, otherwise: UNKNOWN_JOB_ORDER_ID },
};

/** The whole table, every (state, event) cell spelled out; built once from the rows above. */
export const TRANSITION_TABLE: Readonly<Record<TableState, Readonly<Record<JobEvent, Cell>>>> =
  Object.fromEntries(
    TABLE_STATES.map((state) => {
      const row = ROWS[state];
      const cells = JOB_EVENTS.map((event) => [event, row.cells[event] ?? row.otherwise]);
      return [state, Object.fromEntries(cells)];
    }),
  ) as Record<TableState, Record<JobEvent, Cell>>;

/** The cell for `event` in `state`. */
export function lookup(state: TableState, event: JobEvent): Cell {
  return TRANSITION_TABLE[state][event];
}

/** Whether a cell allows the event (as opposed to refusing it with a ReturnStatus). */
export function isRule(cell: Cell): cell is Rule {
  return typeof cell !== "bigint";
}
