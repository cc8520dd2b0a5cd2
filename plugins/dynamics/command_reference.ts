/**
 * How a lot command is named in D365 so that D365's answer names it back. An inventory journal
 * has one free text that every posting keeps and every journal event can carry: the header's
 * `Description` (60 characters). plantgate writes `<commandType> <commandId>`, followed by the
 * command's correlationId when it fits.
 *
 * @module
 */
import type { LotCommand } from "../../gateway/mod.ts";

/** Length of D365's `Description` fields (extended data type Description). */
export const DESCRIPTION_LENGTH = 60;

/** The commands that make a journal (REPORT_LOTS reads on-hand stock: no journal). */
export type JournalCommandType = Exclude<LotCommand["commandType"], "REPORT_LOTS">;

const COMMAND_TYPES: readonly JournalCommandType[] = ["CREATE_LOT", "RECEIVE_LOT", "ADJUST_LOT"];

/** What a journal description says about the command that made the journal. */
export interface CommandReference {
  commandType: JournalCommandType;
  commandId: string;
  correlationId?: string;
}

/**
 * The journal description for a command, or `undefined` when type and id alone are longer than
 * 60 characters. A correlationId that does not fit whole is left out, never cut.
 */
export function commandDescription(command: LotCommand): string | undefined {
  const base = `${command.commandType} ${command.commandId}`;
  if (base.length > DESCRIPTION_LENGTH || /\s/.test(command.commandId)) return undefined;
  const withReference = `${base} ${command.correlationId?.trim()}`;
  return command.correlationId?.trim() && withReference.length <= DESCRIPTION_LENGTH
    ? withReference
    : base;
}

/** The command a journal description names, or `undefined` for any other description. */
export function parseCommandDescription(text: string): CommandReference | undefined {
  const m = /^([A-Z_]+) (\S+)(?: (.+))?$/.exec(text.trim());
  const commandType = m && COMMAND_TYPES.find((t) => t === m[1]);
  if (!m || !commandType) return undefined;
  return { commandType, commandId: m[2], ...(m[3] ? { correlationId: m[3].trim() } : {}) };
}
