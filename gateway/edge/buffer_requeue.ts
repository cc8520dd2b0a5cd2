/**
 * `main.ts buffer requeue`'s two passes over a file of exported lines: first every line is
 * checked by its kind (nothing is written), then the lines are committed to the buffer in
 * batches, each checked again (the file may change in between).
 *
 * @module
 */
import { errorMessage, PlantgateError } from "../core/errors.ts";
import type { Buffer, Intake } from "./buffer.ts";
import { checkLine, intakeOf } from "./buffer_kinds.ts";

/** Events per fsync'd transaction when requeueing. */
const REQUEUE_BATCH = 500;

/** The lines of a file with their 1-based numbers, read in chunks (bounded memory). */
async function* readLines(path: string): AsyncGenerator<{ n: number; text: string }> {
  using file = await Deno.open(path);
  const decoder = new TextDecoder();
  let rest = "";
  let n = 0;
  for await (const chunk of file.readable) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) yield { n: ++n, text: line.replace(/\r$/, "") };
  }
  rest += decoder.decode();
  if (rest !== "") yield { n: ++n, text: rest.replace(/\r$/, "") };
}

/** What the checking pass found in a requeue file. */
export interface RequeueScan {
  /** Sound lines (events). */
  count: number;
  /** Sound lines per kind. */
  byKind: Record<string, number>;
  /** The plants named by the subjects of the sound lines. */
  plants: Set<string>;
  /** Invalid lines. */
  bad: number;
}

/**
 * Checks every line of `file` by its kind, writing nothing; `report` gets the first 50 invalid
 * lines as they are found, each as `<file>:<line> (<kind>): <problem>`.
 */
export async function scanRequeueFile(
  file: string,
  report: (problem: string) => void,
): Promise<RequeueScan> {
  const scan: RequeueScan = { count: 0, byKind: {}, plants: new Set(), bad: 0 };
  for await (const { n, text } of readLines(file)) {
    if (text.trim() === "") continue;
    const checked = checkLine(text);
    if ("problem" in checked) {
      const kind = checked.kind ? ` (${checked.kind})` : "";
      if (++scan.bad <= 50) report(`${file}:${n}${kind}: ${checked.problem}`);
      continue;
    }
    // Both kinds of subject name the plant third: <root>.events.<plant>.<system|scope>.
    scan.plants.add(checked.subject.split(".")[2]);
    scan.byKind[checked.kind] = (scan.byKind[checked.kind] ?? 0) + 1;
    scan.count++;
  }
  return scan;
}

/** Commits the (already validated) events of `file` in batches; returns the totals. */
export async function commitLines(
  buffer: Buffer,
  file: string,
): Promise<{ stored: number; duplicates: number }> {
  const totals = { stored: 0, duplicates: 0 };
  let batch: Intake[] = [];
  const flush = () => {
    try {
      const result = buffer.commit(batch);
      totals.stored += result.stored;
      totals.duplicates += result.duplicates;
      batch = [];
    } catch (error) {
      throw new PlantgateError(
        error instanceof PlantgateError ? error.code : "buffer_write_failed",
        `Cannot requeue the rest of ${file}: ${errorMessage(error)}. ${totals.stored} events ` +
          `were stored before this; running requeue again is safe (they count as duplicates)`,
        { cause: error },
      );
    }
  };
  for await (const { n, text } of readLines(file)) {
    if (text.trim() === "") continue;
    const line = checkLine(text);
    if ("problem" in line) {
      if (batch.length > 0) flush();
      throw new PlantgateError(
        "buffer_write_failed",
        `Cannot requeue ${file}:${n}: it changed while being requeued (${line.problem}). ` +
          `${totals.stored} events were stored before it; fix the file and run requeue again`,
      );
    }
    batch.push(intakeOf(line));
    if (batch.length === REQUEUE_BATCH) flush();
  }
  if (batch.length > 0) flush();
  return totals;
}
