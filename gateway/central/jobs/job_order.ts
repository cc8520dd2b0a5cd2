/**
 * The job order (ISA95JobOrderDataType, OPC 10031-4 v2 §7.3.4) and the arguments of the job
 * control methods, with the checks that decide "Invalid request" (ReturnStatus bit 32) before
 * the state machine looks at states. Field names are the OPC UA PascalCase names used on the wire.
 *
 * Requirements (work master, parameters, personnel, equipment, physical asset, material) are kept
 * opaque: the state machine only needs to know they are arrays; acceptance checks against the
 * scope's resource lists belong to the processor.
 *
 * @module
 */
import type { LocalizedText } from "./states.ts";

/** ISA95JobOrderDataType. Unknown extra fields (model extensions) are kept as they are. */
export interface JobOrder {
  /** Unique ID of the job order, chosen by the caller. */
  JobOrderID: string;
  Description?: LocalizedText[];
  /** ISA95WorkMasterDataType[]; the execution system may pick one. */
  WorkMasterID?: unknown[];
  /** Proposed start of the time window (date-time); may be empty. */
  StartTime?: string | null;
  /** Proposed end of the time window (date-time); may be empty. */
  EndTime?: string | null;
  /** Higher numbers have higher priority; callers pick their own ranges. */
  Priority?: number;
  JobOrderParameters?: unknown[];
  PersonnelRequirements?: unknown[];
  EquipmentRequirements?: unknown[];
  PhysicalAssetRequirements?: unknown[];
  MaterialRequirements?: unknown[];
  [extension: string]: unknown;
}

/**
 * Arguments of a method call as the CloudEvent `data` carries them: Store, StoreAndStart and
 * Update take `JobOrder`; every other method and internal transition takes `JobOrderID`. All
 * take an optional `Comment` (why the method was called; may be empty).
 */
export interface MethodArgs {
  JobOrder?: JobOrder;
  JobOrderID?: string;
  Comment?: LocalizedText[];
}

const ARRAY_FIELDS = [
  "Description",
  "WorkMasterID",
  "JobOrderParameters",
  "PersonnelRequirements",
  "EquipmentRequirements",
  "PhysicalAssetRequirements",
  "MaterialRequirements",
] as const;

/** Why a request is invalid, or null when it is well formed. */
export type Invalid = string | null;

/** Checks a JobOrder argument: an object with a JobOrderID and well-typed optional fields. */
export function checkJobOrder(order: unknown): Invalid {
  if (!isRecord(order)) return "JobOrder is missing or not an object";
  if (!isId(order.JobOrderID)) return "JobOrder.JobOrderID is missing or empty";
  for (const field of ARRAY_FIELDS) {
    if (order[field] !== undefined && !Array.isArray(order[field])) {
      return `JobOrder.${field} is not an array`;
    }
  }
  if (order.Priority !== undefined && !Number.isSafeInteger(order.Priority)) {
    return "JobOrder.Priority is not an integer";
  }
  return checkTimeWindow(order.StartTime, order.EndTime);
}

function checkTimeWindow(start: unknown, end: unknown): Invalid {
  for (const [name, value] of [["StartTime", start], ["EndTime", end]] as const) {
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || !Number.isFinite(Date.parse(value))) {
      return `JobOrder.${name} is not a date-time`;
    }
  }
  if (typeof start === "string" && typeof end === "string" && Date.parse(end) < Date.parse(start)) {
    return "JobOrder.EndTime is before JobOrder.StartTime";
  }
  return null;
}

/** Checks a Comment argument: absent, or an array of LocalizedText. */
export function checkComment(comment: unknown): Invalid {
  if (comment === undefined) return null;
  const ok = Array.isArray(comment) && comment.every((text) =>
    isRecord(text) &&
    (text.Text === undefined || typeof text.Text === "string") &&
    (text.Locale === undefined || typeof text.Locale === "string")
  );
  return ok ? null : "Comment is not an array of LocalizedText";
}

/** Checks the arguments of a method: `takesOrder` for Store, StoreAndStart and Update. */
export function checkArgs(args: unknown, takesOrder: boolean): Invalid {
  if (!isRecord(args)) return "the method arguments are not an object";
  const invalid = takesOrder ? checkJobOrder(args.JobOrder) : checkId(args.JobOrderID);
  return invalid ?? checkComment(args.Comment);
}

function checkId(id: unknown): Invalid {
  return isId(id) ? null : "JobOrderID is missing or empty";
}

/** The JobOrderID a well-formed request is about (`takesOrder` as for {@linkcode checkArgs}). */
export function requestedId(args: MethodArgs, takesOrder: boolean): string {
  return (takesOrder ? args.JobOrder?.JobOrderID : args.JobOrderID) ?? "";
}

function isId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
