/**
 * States of an ISA-95 job order (OPC 10031-4 v2 §6.2.1.2, reused by OPC 40001-3) and their
 * numbers, plus the `State` array (ISA95StateDataType[], §7.3.2) the MES sees.
 *
 * Top-level StateNumbers: NotAllowedToStart 1, AllowedToStart 2, Running 3, Interrupted 4,
 * Ended 5, Aborted 6. Substate numbers are local to their substate machine (§6.2.3-6.2.5):
 * Waiting 1, Ready 2, Loaded 3 under both NotAllowedToStart and AllowedToStart; Held 1,
 * Suspended 2 under Interrupted; Completed 1, Closed 2 under Ended. Running and Aborted have none.
 * ("Ready=11" and "Completed=51" seen in the microdcs docs and fixtures are not spec values.)
 *
 * InitialState and EndState are the spec's dotted states, "not represented in the StateMachine":
 * a job order in EndState is no longer in the JobOrderList. This module never numbers
 * InitialState (it is simply "no record"); EndState keeps a record (for audit until the DAO
 * purges it) and carries microdcs's non-spec number 7 only so that existing clients can read it.
 *
 * @module
 */

/** The spec's top-level states, in StateNumber order. */
export const SPEC_STATES = [
  "NotAllowedToStart",
  "AllowedToStart",
  "Running",
  "Interrupted",
  "Ended",
  "Aborted",
] as const;

/** A spec top-level state. */
export type SpecState = typeof SPEC_STATES[number];

/** A state a stored job order can be in: a spec state or the dotted EndState. */
export type JobState = SpecState | "EndState";

/** Where a job order is before it exists: the dotted InitialState (there is no record). */
export type InitialState = "InitialState";

/** Substates of the ISA95PrepareStateMachineType (NotAllowedToStart, AllowedToStart). */
export type PrepareSubstate = "Waiting" | "Ready" | "Loaded";
/** Substates of the ISA95InterruptedStateMachineType. */
export type InterruptedSubstate = "Held" | "Suspended";
/** Substates of the ISA95EndedStateMachineType. */
export type EndedSubstate = "Completed" | "Closed";
/** Any substate. */
export type Substate = PrepareSubstate | InterruptedSubstate | EndedSubstate;

/** Top-level StateNumbers from Table 14. */
export const STATE_NUMBERS: Readonly<Record<SpecState, number>> = {
  NotAllowedToStart: 1,
  AllowedToStart: 2,
  Running: 3,
  Interrupted: 4,
  Ended: 5,
  Aborted: 6,
};

/** microdcs's number for the dotted EndState; not a spec value (see module doc). */
export const END_STATE_NUMBER = 7;

/** One substate machine of ISA95JobOrderReceiverSubStatesType (Table 37). */
export interface SubstateMachine {
  /** BrowseName of the component, the target of the substate entry's BrowsePath. */
  readonly browseName: string;
  /** Substate -> number, local to this machine. */
  readonly numbers: Readonly<Partial<Record<Substate, number>>>;
}

const PREPARE_NUMBERS = { Waiting: 1, Ready: 2, Loaded: 3 } as const;

/** The substate machine of each state that has one; Running, Aborted and EndState have none. */
export const SUBSTATE_MACHINES: Readonly<Partial<Record<JobState, SubstateMachine>>> = {
  NotAllowedToStart: { browseName: "NotAllowedToStartSubstates", numbers: PREPARE_NUMBERS },
  AllowedToStart: { browseName: "AllowedToStartSubstates", numbers: PREPARE_NUMBERS },
  Interrupted: { browseName: "InterruptedSubstates", numbers: { Held: 1, Suspended: 2 } },
  Ended: { browseName: "EndedSubstates", numbers: { Completed: 1, Closed: 2 } },
};

/** A state and its substate, e.g. `{ state: "Ended", substate: "Completed" }`. */
export interface StatePath {
  readonly state: JobState;
  /** null exactly for the states without a substate machine. */
  readonly substate: Substate | null;
}

/** Every leaf a stored job order can be in (12 spec leaves plus EndState), in spec order. */
export const LEAF_STATES: readonly StatePath[] = [
  ...SPEC_STATES.flatMap((state) => leavesOf(state)),
  { state: "EndState", substate: null },
];

function leavesOf(state: JobState): StatePath[] {
  const machine = SUBSTATE_MACHINES[state];
  if (!machine) return [{ state, substate: null }];
  return Object.keys(machine.numbers).map((substate) => ({
    state,
    substate: substate as Substate,
  }));
}

/** Whether `substate` belongs to `state` (null for states without substates). */
export function isValidStatePath(path: StatePath): boolean {
  const machine = SUBSTATE_MACHINES[path.state];
  if (!machine) return path.substate === null && isJobState(path.state);
  return path.substate !== null && machine.numbers[path.substate] !== undefined;
}

/** Whether `value` names a state a stored job order can be in. */
export function isJobState(value: unknown): value is JobState {
  return value === "EndState" || (SPEC_STATES as readonly unknown[]).includes(value);
}

/** "Ended/Completed" or "Running": a leaf's name for logs, tests and the change stream. */
export function leafName(path: StatePath): string {
  return path.substate === null ? path.state : `${path.state}/${path.substate}`;
}

/** Ended (any substate) and Aborted: the states from which Clear removes a job order. */
export const CLEARABLE_STATES: ReadonlySet<JobState> = new Set(["Ended", "Aborted"]);

/** LocalizedText as OPC UA JSON spells it. */
export interface LocalizedText {
  Locale?: string;
  Text?: string;
}

/** One element of an OPC UA RelativePath (JSON, non-reversible form). */
export interface RelativePathElement {
  /** HasComponent (ns=0;i=47). */
  ReferenceTypeId: { Id: number };
  IsInverse: boolean;
  IncludeSubtypes: boolean;
  /** BrowseName of the substate machine; `Uri` is the ISA95-JOBCONTROL_V2 namespace. */
  TargetName: { Name: string; Uri: string };
}

/** ISA95StateDataType: one entry of a job order's `State` array. */
export interface Isa95State {
  /** null for the top-level entry; the substate machine's browse path for a substate. */
  BrowsePath: { Elements: RelativePathElement[] } | null;
  StateText: LocalizedText;
  StateNumber: number;
}

/** Namespace of the ISA-95 Job Control v2 model, which defines the substate machines. */
export const JOB_CONTROL_NAMESPACE = "http://opcfoundation.org/UA/ISA95-JOBCONTROL_V2/";

/**
 * The `State` array for a leaf (§7.3.2): the top-level entry first with BrowsePath null, then
 * the substate entry whose BrowsePath targets the substate machine and whose number is local to
 * it. microdcs sends substate entries without a BrowsePath; this one follows the spec.
 *
 * @example
 * ```ts
 * toStateArray({ state: "Ended", substate: "Closed" }).map((s) => s.StateNumber); // [5, 2]
 * ```
 */
export function toStateArray(path: StatePath, locale = "en"): Isa95State[] {
  if (!isValidStatePath(path)) throw new RangeError(`Not a job order state: ${leafName(path)}`);
  const number = path.state === "EndState" ? END_STATE_NUMBER : STATE_NUMBERS[path.state];
  const entries: Isa95State[] = [
    { BrowsePath: null, StateText: { Locale: locale, Text: path.state }, StateNumber: number },
  ];
  const machine = SUBSTATE_MACHINES[path.state];
  if (machine && path.substate !== null) {
    entries.push({
      BrowsePath: { Elements: [substateElement(machine.browseName)] },
      StateText: { Locale: locale, Text: path.substate },
      StateNumber: machine.numbers[path.substate]!,
    });
  }
  return entries;
}

function substateElement(browseName: string): RelativePathElement {
  return {
    ReferenceTypeId: { Id: 47 },
    IsInverse: false,
    IncludeSubtypes: false,
    TargetName: { Name: browseName, Uri: JOB_CONTROL_NAMESPACE },
  };
}
