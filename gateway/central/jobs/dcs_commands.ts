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

/** A hook that publishes `Run` to the scope's plant when a job becomes AllowedToStart. */
export function dcsRunCommands(
  js: JetStreamClient,
  options: DcsRunCommandsOptions,
): TransitionHook {
  const attempts = options.attempts ?? 5;
  return async (scope, job, transition) => {
    if (transition.event !== "Start" && transition.event !== "StoreAndStart") return;
    if (job.state !== "AllowedToStart") return;
    const plant = options.scopes[scope];
    if (!plant) {
      options.log.warn("No plant runs this scope (jobs.scopes): no Run command sent", {
        scope,
        jobOrderId: job.order.JobOrderID,
      });
      return;
    }
    const command = runCommand(scope, job);
    const subject = jobCommandsSubject(plant, scope);
    for (let attempt = 0;; attempt++) {
      try {
        await js.publish(subject, JSON.stringify(command), { msgID: command.commandId });
        options.log.info("Run command sent", { subject, jobOrderId: command.jobOrderId });
        return;
      } catch (error) {
        if (attempt + 1 >= attempts) {
          options.log.error("Cannot send Run command", {
            code: "forward_failed",
            subject,
            jobOrderId: command.jobOrderId,
            error: errorMessage(error),
          });
          return;
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, { maxMs: 2000 })));
      }
    }
  };
}
