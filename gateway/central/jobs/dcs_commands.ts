/**
 * Commands to the DCS: when the MES's Start or StoreAndStart makes a job AllowedToStart, a `Run`
 * command goes to `jobs.commands.<plant>.<scope>` (the plant from `jobs.scopes`), `Nats-Msg-Id` =
 * the command id. The id is derived from the job and the transition's time, so a repeated
 * publish of the same start is deduplicated by JetStream.
 *
 * @module
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { backoffDelay } from "../../core/backoff.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { uuidV5 } from "../../core/uuid.ts";
import { jobCommandsSubject } from "../../io/jetstream.ts";
import type { DcsCommand } from "./dcs_message.ts";
import type { Job, TransitionInfo } from "./mod.ts";
import type { JobStore } from "./store.ts";

/** The JobsProcessor's `onTransition` hook. */
export type TransitionHook = (scope: string, job: Job, transition: TransitionInfo) => Promise<void>;

/** Options of {@linkcode dcsRunCommands}. */
export interface DcsRunCommandsOptions {
  /** Scope -> the plant whose edge serves it (`jobs.scopes`). */
  scopes: Readonly<Record<string, string>>;
  /** Publish attempts before giving up (logged). Default 5. */
  attempts?: number;
  log: Logger;
}

/** The `Run` command for a job that just became AllowedToStart. */
export function runCommand(scope: string, job: Job): DcsCommand {
  const jobOrderId = job.order.JobOrderID;
  return {
    commandId: uuidV5(`dcs-command/${scope}/${jobOrderId}/Run/${job.updatedAt}`),
    jobOrderId,
    scope,
    action: "Run",
    jobOrder: job.order,
    issuedAt: job.updatedAt,
  };
}

/** Publishes a job's `Run` to its scope's plant, retrying `attempts` times; true when sent. */
async function sendRun(
  js: JetStreamClient,
  scope: string,
  job: Job,
  options: DcsRunCommandsOptions,
): Promise<boolean> {
  const plant = options.scopes[scope];
  if (!plant) {
    options.log.warn("No plant runs this scope (jobs.scopes): no Run command sent", {
      scope,
      jobOrderId: job.order.JobOrderID,
    });
    return false;
  }
  const attempts = options.attempts ?? 5;
  const command = runCommand(scope, job);
  const subject = jobCommandsSubject(plant, scope);
  for (let attempt = 0;; attempt++) {
    try {
      await js.publish(subject, JSON.stringify(command), { msgID: command.commandId });
      options.log.info("Run command sent", { subject, jobOrderId: command.jobOrderId });
      return true;
    } catch (error) {
      if (attempt + 1 >= attempts) {
        options.log.error("Cannot send Run command (sent again by the next resend round)", {
          code: "forward_failed",
          subject,
          jobOrderId: command.jobOrderId,
          error: errorMessage(error),
        });
        return false;
      }
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, { maxMs: 2000 })));
    }
  }
}

/** A hook that publishes `Run` to the scope's plant when a job becomes AllowedToStart. */
export function dcsRunCommands(
  js: JetStreamClient,
  options: DcsRunCommandsOptions,
): TransitionHook {
  return async (scope, job, transition) => {
    if (transition.event !== "Start" && transition.event !== "StoreAndStart") return;
    if (job.state !== "AllowedToStart") return;
    await sendRun(js, scope, job, options);
  };
}

/**
 * Sends `Run` again for every job of the configured scopes still AllowedToStart: after a crash
 * between the store write and the publish, or a publish that failed for good, the command is
 * not lost. The command id is the same each time (JetStream drops repeats within its duplicate
 * window; the DCS ignores a Run for a job it runs — DCS.md). Returns how many were sent.
 */
export async function resendPendingRuns(
  store: JobStore,
  js: JetStreamClient,
  options: DcsRunCommandsOptions,
): Promise<number> {
  let sent = 0;
  for (const scope of Object.keys(options.scopes)) {
    for (const job of await store.list(scope)) {
      if (job.state === "AllowedToStart" && await sendRun(js, scope, job, options)) sent++;
    }
  }
  return sent;
}
