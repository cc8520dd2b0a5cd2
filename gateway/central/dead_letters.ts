/**
 * The centre's dead letters in the JetStream stream `DEAD_LETTERS` (`dlq.central.<plant>`):
 * reading them from stored messages, opening the connection, scanning and looking them up,
 * replaying one to its original subject and deleting one. The CLI over them is `dlq.ts`.
 *
 * @module
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import { loadCentralConfig } from "../core/central_config.ts";
import { errorMessage, PlantgateError } from "../core/errors.ts";
import { createLogger } from "../core/logger.ts";
import { checkStreams, connectNats } from "../io/jetstream.ts";
import { cliEnv, type CliIo, unsetVariable, UsageError, utf8Text } from "../edge/cli_io.ts";
import { centralDeadLetterSubject } from "./orchestrator.ts";

/** The stream that keeps the dead letters. */
export const STREAM = "DEAD_LETTERS";
/** The subject prefix of the centre's dead letters, before the plant id. */
export const PREFIX = centralDeadLetterSubject("");
const SECOND_NS = 1_000_000_000;

/** One central dead letter as stored in `DEAD_LETTERS`. */
export interface CentralDeadLetter {
  /** Sequence in DEAD_LETTERS: what the commands take. */
  seq: number;
  /** When it was dead-lettered (stored). */
  time: Date;
  plant: string;
  /** The original subject (`Plantgate-Subject`), where replay publishes; "" when missing. */
  subject: string;
  stage: string;
  code: string;
  message: string;
  deliveries: number | null;
  /** Stream and sequence the event had (`Plantgate-Stream-Seq`, stream from the msg id). */
  origin: { stream: string | null; seq: number | null };
  msgId: string | null;
  eventId: string | null;
  /** Headers other than the ones above. */
  otherHeaders: [string, string][];
  /** The original event bytes. */
  data: Uint8Array;
}

const KNOWN_HEADERS = [
  "Plantgate-Stage",
  "Plantgate-Code",
  "Plantgate-Message",
  "Plantgate-Subject",
  "Plantgate-Deliveries",
  "Plantgate-Stream-Seq",
  "Nats-Msg-Id",
];

function eventIdOf(data: Uint8Array): string | null {
  try {
    const id = JSON.parse(utf8Text(data) ?? "")?.eventId;
    return typeof id === "string" ? id : null;
  } catch {
    return null;
  }
}

function wholeNumber(text: string): number | null {
  return /^\d+$/.test(text) ? Number(text) : null;
}

/** A stored message of DEAD_LETTERS as a dead letter. */
function deadLetterOf(
  m: { seq: number; subject: string; time: Date; data: Uint8Array },
  h: MsgHdrs | undefined,
): CentralDeadLetter {
  const get = (name: string) => h?.get(name) ?? "";
  const msgId = get("Nats-Msg-Id") || null;
  return {
    seq: m.seq,
    time: m.time,
    plant: m.subject.slice(PREFIX.length),
    subject: get("Plantgate-Subject"),
    stage: get("Plantgate-Stage") || "-",
    code: get("Plantgate-Code") || "-",
    message: get("Plantgate-Message"),
    deliveries: wholeNumber(get("Plantgate-Deliveries")),
    origin: {
      stream: /^central:([^:]+):/.exec(msgId ?? "")?.[1] ?? null,
      seq: wholeNumber(get("Plantgate-Stream-Seq")),
    },
    msgId,
    eventId: eventIdOf(m.data),
    otherHeaders: h
      ? [...h.keys()].filter((k) => !KNOWN_HEADERS.includes(k)).map((k) => [k, h.get(k)])
      : [],
    data: m.data,
  };
}

/** An open NATS connection to the DEAD_LETTERS stream. Dispose to close. */
interface Central extends AsyncDisposable {
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Options of {@linkcode openCentral}. */
export interface OpenCentralOptions {
  /** How long to try to reach NATS before giving up (exit 1 in dlq). Default 10 000 ms. */
  connectTimeoutMs?: number;
}

/** Loads the config and connects; NATS credentials must be set, other secrets need not be. */
export async function openCentral(
  file: string,
  io: CliIo,
  options: OpenCentralOptions,
): Promise<Central> {
  const config = await loadCentralConfig(file, { env: cliEnv() });
  for (const key of ["password", "token"] as const) {
    const name = unsetVariable(config.nats[key]);
    if (name === undefined) continue;
    throw new PlantgateError(
      "config_invalid",
      `${file}: nats.${key}Env: environment variable ${name} is not set; dlq needs it to ` +
        `connect to NATS (run it with the central service's environment)`,
    );
  }
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new Error(`no answer within ${timeoutMs / 1000} s`)),
    timeoutMs,
  );
  const servers = config.nats.servers.join(", ");
  let nc;
  try {
    nc = await connectNats({
      ...config.nats,
      name: "plantgate-dlq",
      log: createLogger({ level: "warn", write: (line) => io.err(line) }),
      signal: abort.signal,
    });
  } catch (error) {
    throw new PlantgateError(
      "nats_connection",
      `Cannot connect to NATS at ${servers} (nats.servers in ${file}): ${errorMessage(error)}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
  try {
    await checkStreams(nc, [STREAM]);
    return {
      js: jetstream(nc),
      jsm: await jetstreamManager(nc),
      [Symbol.asyncDispose]: () => nc.close(),
    };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/** What `list` and `--all` select; `after` is a DEAD_LETTERS sequence. */
export interface Filter {
  plant?: string;
  code?: string;
  stage?: string;
  since?: number;
  after?: number;
}

function matches(dl: CentralDeadLetter, filter: Filter): boolean {
  return (filter.code === undefined || dl.code === filter.code) &&
    (filter.stage === undefined || dl.stage === filter.stage) &&
    (filter.since === undefined || dl.time.getTime() >= filter.since);
}

/** Where a temporary consumer starts: after a sequence, at a time, or at the beginning. */
function startOf(filter: Filter): Partial<ConsumerConfig> {
  if (filter.after !== undefined) {
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: filter.after + 1 };
  }
  if (filter.since !== undefined) {
    const opt_start_time = new Date(filter.since).toISOString();
    return { deliver_policy: DeliverPolicy.StartTime, opt_start_time };
  }
  return { deliver_policy: DeliverPolicy.All };
}

/**
 * The central dead letters of the filter's plant and start that the stream held when called,
 * oldest first (callers apply the rest of the filter: {@linkcode matches}), read in batches
 * through a temporary consumer, deleted at the end (or by the server five minutes after the
 * command died: longer than replaying one batch can take). `total` is how many there are.
 */
async function scan(central: Central, filter: Filter) {
  const { jsm, js } = central;
  const lastSeq = (await jsm.streams.info(STREAM)).state.last_seq;
  const info = await jsm.consumers.add(STREAM, {
    ack_policy: AckPolicy.None,
    filter_subject: centralDeadLetterSubject(filter.plant ?? ">"),
    mem_storage: true,
    inactive_threshold: 300 * SECOND_NS,
    ...startOf(filter),
  });
  async function* letters(): AsyncGenerator<CentralDeadLetter> {
    try {
      const consumer = await js.consumers.get(STREAM, info.name);
      for (let left = info.num_pending; left > 0;) {
        // A batch is read whole before it is handed out: replaying it may take longer than
        // the pull request lives.
        const batch = [];
        const max_messages = Math.min(left, 100);
        for await (const m of await consumer.fetch({ max_messages, expires: 5_000 })) {
          batch.push(m);
          left = m.info.pending;
        }
        if (batch.length === 0) return;
        for (const m of batch) {
          if (m.seq > lastSeq) return;
          yield deadLetterOf(m, m.headers);
        }
      }
    } finally {
      await jsm.consumers.delete(STREAM, info.name).catch(() => {});
    }
  }
  return { total: info.num_pending, letters: letters() };
}

/** A `<seq>` argument. */
export function parseSeq(arg: string): number {
  const seq = wholeNumber(arg);
  if (seq === null || seq < 1) {
    throw new UsageError(
      `"${arg}" is not a dead letter seq (a whole number: the SEQ column of "dlq list")`,
    );
  }
  return seq;
}

/** The dead letters named on the command line; unknown ones are an error naming them. */
export async function namedDeadLetters(
  central: Central,
  args: string[],
): Promise<CentralDeadLetter[]> {
  const seqs = [...new Set(args.map(parseSeq))];
  const found = await Promise.all(
    seqs.map((seq) => central.jsm.streams.getMessage(STREAM, { seq })),
  );
  const missing = seqs.flatMap((seq, i) => {
    const m = found[i];
    if (m === null) return [String(seq)];
    return m.subject.startsWith(PREFIX) ? [] : [`${seq} (that is a ${m.subject} message)`];
  });
  if (missing.length > 0) {
    throw new Error(`No central dead letter ${missing.join(", ")} in stream ${STREAM}`);
  }
  return found.map((m) => deadLetterOf(m!, m!.header));
}

/** The dead letters of `replay`/`purge`: the named ones, or all matching the filter. */
export async function selection(
  central: Central,
  positionals: string[],
  filter: Filter | undefined,
): Promise<{ total: number; letters: AsyncIterable<CentralDeadLetter> }> {
  if (filter === undefined) {
    const named = await namedDeadLetters(central, positionals);
    return {
      total: named.length,
      letters: (async function* () {
        yield* named;
      })(),
    };
  }
  const { total, letters } = await scan(central, filter);
  return {
    total,
    letters: (async function* () {
      for await (const dl of letters) if (matches(dl, filter)) yield dl;
    })(),
  };
}

/** What replaying one dead letter came to. */
export type ReplayOutcome =
  | {
    seq: number;
    outcome: "replayed";
    subject: string;
    stream: string;
    streamSeq: number;
    duplicate: boolean;
  }
  | { seq: number; outcome: "would_replay"; subject: string; eventId: string | null }
  | { seq: number; outcome: "failing"; message: string }
  | { seq: number; outcome: "skipped"; reason: string };

/**
 * The msg id of a replay. Not the event id: JetStream would drop it as a duplicate of the
 * original within the duplicate window. The same on every replay of one dead letter, so a
 * replay repeated after its delete failed is not published twice.
 */
function replayMsgId(dl: CentralDeadLetter): string {
  return `replay:${dl.seq}${dl.msgId ? `:${dl.msgId}` : ""}`;
}

/** Publishes the event to its original subject and, after the ack, deletes the dead letter. */
export async function replayOne(
  central: Central,
  dl: CentralDeadLetter,
  dryRun: boolean,
): Promise<ReplayOutcome> {
  const { seq, subject } = dl;
  if (!subject || subject.startsWith("dlq.")) {
    const reason = subject
      ? `its original subject "${subject}" is a dead-letter subject`
      : "no Plantgate-Subject header: the original subject is unknown";
    return { seq, outcome: "skipped", reason };
  }
  if (dryRun) return { seq, outcome: "would_replay", subject, eventId: dl.eventId };
  const h = headers();
  h.set("Plantgate-Replayed-From", `${STREAM}:${seq}`);
  let ack;
  try {
    ack = await central.js.publish(subject, dl.data, { msgID: replayMsgId(dl), headers: h });
  } catch (error) {
    // No responders: JetStream is there (DEAD_LETTERS answered), so no stream takes the subject.
    const why = /no responders|jetstream is not enabled/i.test(errorMessage(error))
      ? "no stream captures that subject"
      : errorMessage(error);
    return { seq, outcome: "failing", message: `cannot publish to "${subject}": ${why}` };
  }
  try {
    await deleteDeadLetter(central, seq);
  } catch (error) {
    return {
      seq,
      outcome: "failing",
      message: `published to "${subject}" (${ack.stream} seq ${ack.seq}) but cannot delete ` +
        `the dead letter: ${errorMessage(error)}; replaying it again is harmless`,
    };
  }
  const { stream, seq: streamSeq, duplicate } = ack;
  return { seq, outcome: "replayed", subject, stream, streamSeq, duplicate };
}

/** Deletes the dead letter `seq` (without overwriting its bytes). */
export async function deleteDeadLetter(central: Central, seq: number): Promise<void> {
  await central.jsm.streams.deleteMessage(STREAM, seq, false);
}
