import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { captureIo } from "../edge/cli_io.ts";
import { connectNats, ensureStreams } from "../io/jetstream.ts";
import { freePort, type PrivateServer, startNats } from "../sim/servers.ts";
import { integrationTest } from "../../tests/_integration.ts";
import { sampleEvent } from "../../tests/_events.ts";
import { readStream } from "../../tests/_stream.ts";
import { type CentralDlqOptions, runCentralDlqCommand } from "./dlq.ts";
import { centralDeadLetterSubject } from "./orchestrator.ts";

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));

/** A dead letter as the orchestrator publishes it (`Orchestrator#deadLetter`). */
interface Letter {
  plant: string;
  subject?: string;
  stage: string;
  code: string;
  message: string;
  deliveries: number;
  streamSeq: number;
  data: Uint8Array;
}

async function publishDeadLetter(nc: NatsConnection, l: Letter): Promise<number> {
  const h = headers();
  h.set("Plantgate-Stage", l.stage);
  h.set("Plantgate-Code", l.code);
  h.set("Plantgate-Message", l.message);
  if (l.subject !== undefined) h.set("Plantgate-Subject", l.subject);
  h.set("Plantgate-Deliveries", String(l.deliveries));
  h.set("Plantgate-Stream-Seq", String(l.streamSeq));
  const ack = await jetstream(nc).publish(centralDeadLetterSubject(l.plant), l.data, {
    msgID: `central:LOT_EVENTS:${l.streamSeq}`,
    headers: h,
  });
  return ack.seq;
}

const eventA = sampleEvent(1);
const { eventType: _, ...invalidB } = sampleEvent(3, { plantId: "B", sourceSystem: "dynamics" });
const eventB = sampleEvent(5, { plantId: "B", sourceSystem: "dynamics" });

/**
 * DEAD_LETTERS after the orchestrator met: 1 an event of A that kept failing to apply, 2 bytes
 * of A that are not JSON, 3 an event of B without eventType, 4 an edge dead letter (not ours),
 * 5 an event of B that kept failing to apply.
 */
const LETTERS: (Letter | { edge: Uint8Array })[] = [
  {
    plant: "A",
    subject: "lots.events.A.sap",
    stage: "apply",
    code: "apply_failed",
    message: "connection terminated",
    deliveries: 10,
    streamSeq: 5,
    data: json(eventA),
  },
  {
    plant: "A",
    subject: "lots.events.A.sap",
    stage: "decode",
    code: "invalid_json",
    message: "Unexpected token n in JSON",
    deliveries: 1,
    streamSeq: 6,
    data: encoder.encode("{not json"),
  },
  {
    plant: "B",
    subject: "lots.events.B.dynamics",
    stage: "validate",
    code: "event_invalid",
    message: "eventType is required",
    deliveries: 1,
    streamSeq: 7,
    data: json(invalidB),
  },
  { edge: encoder.encode('{"hello":"edge"}') },
  {
    plant: "B",
    subject: "lots.events.B.dynamics",
    stage: "apply",
    code: "apply_failed",
    message: "deadlock detected",
    deliveries: 10,
    streamSeq: 9,
    data: json(eventB),
  },
];

/** A private NATS with the streams and {@linkcode LETTERS}, a central config naming it. */
async function site(): Promise<
  { nats: PrivateServer; nc: NatsConnection; config: string; dir: string } & AsyncDisposable
> {
  const nats = await startNats();
  const nc = await connectNats({ servers: [nats.url], name: "dlq-test" });
  await ensureStreams(await jetstreamManager(nc));
  for (const l of LETTERS) {
    if ("edge" in l) await jetstream(nc).publish("dlq.edge.A", l.edge, { msgID: "edge-1" });
    else await publishDeadLetter(nc, l);
  }
  const dir = await Deno.makeTempDir({ prefix: "plantgate-central-dlq-" });
  const config = `${dir}/central.yaml`;
  await Deno.writeTextFile(config, `nats:\n  servers: [${nats.url}]\n`);
  return {
    nats,
    nc,
    config,
    dir,
    async [Symbol.asyncDispose]() {
      await nc.close();
      await nats[Symbol.asyncDispose](); // deletes its temporary folder too
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function run(args: string[], options: CentralDlqOptions = {}) {
  const io = captureIo();
  const code = await runCentralDlqCommand(args, io, { connectTimeoutMs: 2_000, ...options });
  return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n"), raw: io.raw };
}

const seqs = (stdout: string) => stdout ? stdout.split("\n").map((l) => JSON.parse(l).seq) : [];

async function stored(nc: NatsConnection, seq: number) {
  return await (await jetstreamManager(nc)).streams.getMessage("DEAD_LETTERS", { seq });
}

Deno.test("central dlq --help and every subcommand's --help exit 0 without connecting", async () => {
  const top = await run(["--help", "-c", "/nonexistent/central.yaml"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /DEAD_LETTERS under dlq\.central\.<plant>/);
  for (const sub of ["list", "show", "replay", "purge"]) {
    assert.match(top.stdout, new RegExp(`^  ${sub}`, "m"));
    const r = await run([sub, "--help", "-c", "/nonexistent/central.yaml"]);
    assert.equal(r.code, 0, sub);
    assert.match(r.stdout, new RegExp(`^Usage: main.ts dlq ${sub} .*-c <central.yaml>`), sub);
    assert.match(r.stdout, /Examples:/, sub);
  }
});

Deno.test("central dlq bad usage exits 2 naming the flag, before reading the config", async () => {
  const cases: [string[], RegExp][] = [
    [["lsit"], /Unknown subcommand "lsit"/],
    [["list", "--buffer", "x.db"], /--buffer/],
    [["list", "--code", "bad_code"], /--code "bad_code" is not an error code/],
    [["list", "--stage", "later"], /--stage "later" is not a stage/],
    [["list", "--plant", "A.>"], /--plant "A\.>" is not a plant id/],
    [["list", "--since", "yesterday"], /--since "yesterday" is not an ISO date/],
    [["show", "abc"], /"abc" is not a dead letter seq/],
    [["show"], /Missing the dead letter <seq>/],
    [["replay"], /Missing dead letter ids \(or --all\)/],
    [["replay", "1", "--all"], /ids or --all, not both/],
    [["replay", "1", "--plant", "A"], /--plant only applies with --all/],
    [["purge", "0"], /"0" is not a dead letter seq/],
  ];
  for (const [args, message] of cases) {
    const r = await run([...args, "-c", "/nonexistent/central.yaml"]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, message, args.join(" "));
    assert.match(r.stderr, /Usage: main.ts dlq/, args.join(" "));
  }
});

Deno.test("central dlq names a missing config (exit 2) and an unset NATS secret (exit 2)", async () => {
  const missing = await run(["list", "-c", "/nonexistent/central.yaml"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /\/nonexistent\/central\.yaml/);
  const dir = await Deno.makeTempDir({ prefix: "plantgate-central-dlq-" });
  try {
    await Deno.writeTextFile(
      `${dir}/central.yaml`,
      "nats:\n  tokenEnv: PLANTGATE_TEST_UNSET_TOKEN\npostgres:\n  passwordEnv: PLANTGATE_TEST_UNSET_PG\n",
    );
    const r = await run(["list", "-c", `${dir}/central.yaml`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nats\.tokenEnv: environment variable PLANTGATE_TEST_UNSET_TOKEN/);
    assert.doesNotMatch(r.stderr, /PLANTGATE_TEST_UNSET_PG/, "the database password is not needed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

integrationTest("central dlq says which NATS it cannot reach (exit 1)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-central-dlq-" });
  try {
    const url = `nats://127.0.0.1:${freePort()}`;
    await Deno.writeTextFile(`${dir}/central.yaml`, `nats:\n  servers: [${url}]\n`);
    const r = await run(["list", "-c", `${dir}/central.yaml`], { connectTimeoutMs: 300 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Cannot connect to NATS at ${url} \\(nats.servers in `));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

integrationTest("central dlq list shows central dead letters and filters them", async () => {
  await using s = await site();
  const all = await run(["list", "-c", s.config]);
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.split("\n");
  assert.match(
    lines[0],
    /^SEQ\s+TIME\s+PLANT\s+SUBJECT\s+CODE\s+STAGE\s+DELIVERIES\s+EVENT ID\s+MESSAGE$/,
  );
  assert.equal(lines.length, 5, "four central dead letters, the edge's left out");
  assert.match(
    lines[1],
    new RegExp(
      `^1\\s+\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\s+A\\s+lots\\.events\\.A\\.sap\\s+apply_failed\\s+` +
        `apply\\s+10\\s+${eventA.eventId}\\s+connection terminated$`,
    ),
  );
  assert.match(lines[2], /^2\s.*invalid_json\s+decode\s+1\s+-\s+Unexpected token/);
  const list = async (...args: string[]) =>
    seqs((await run(["list", "--json", "-c", s.config, ...args])).stdout);
  assert.deepEqual(await list("--plant", "B"), [3, 5]);
  assert.deepEqual(await list("--code", "apply_failed"), [1, 5]);
  assert.deepEqual(await list("--stage", "validate"), [3]);
  assert.deepEqual(await list("--plant", "A", "--stage", "apply"), [1]);
  assert.deepEqual(await list("--since", "2020-01-01"), [1, 2, 3, 5]);
  assert.deepEqual(await list("--since", new Date(Date.now() + 60_000).toISOString()), []);
  assert.deepEqual(await list("--after", "2"), [3, 5]);
  const paged = await run(["list", "--limit", "1", "-c", s.config]);
  assert.match(paged.stdout, /^1\s[\s\S]*\(more: --after 1\)$/m);
  const [first] = (await run(["list", "--json", "--limit", "1", "-c", s.config])).stdout.split(
    "\n",
  );
  const consumers = await (await jetstreamManager(s.nc)).consumers.list("DEAD_LETTERS").next();
  assert.deepEqual(consumers, [], "the temporary consumers are gone, also after --limit");
  assert.deepEqual(JSON.parse(first), {
    ...JSON.parse(first),
    seq: 1,
    plant: "A",
    subject: "lots.events.A.sap",
    stage: "apply",
    code: "apply_failed",
    deliveries: 10,
    origin: { stream: "LOT_EVENTS", seq: 5 },
    msgId: "central:LOT_EVENTS:5",
    eventId: eventA.eventId,
  });
});

integrationTest("central dlq show prints the headers and the event pretty-printed", async () => {
  await using s = await site();
  const r = await run(["show", "1", "-c", s.config]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^dead letter\s+1 \(DEAD_LETTERS, dlq\.central\.A\)$/m);
  assert.match(r.stdout, /^subject\s+lots\.events\.A\.sap$/m);
  assert.match(r.stdout, /^stage\s+apply$/m);
  assert.match(r.stdout, /^code\s+apply_failed$/m);
  assert.match(r.stdout, /^message\s+connection terminated$/m);
  assert.match(r.stdout, /^deliveries\s+10$/m);
  assert.match(r.stdout, /^origin\s+LOT_EVENTS seq 5$/m);
  assert.match(r.stdout, new RegExp(`^event id\\s+${eventA.eventId}$`, "m"));
  assert.match(r.stdout, /Event \(\d+ bytes, JSON, pretty-printed\):\n\{\n {2}"schemaVersion": 1,/);
  const text = await run(["show", "2", "-c", s.config]);
  assert.match(text.stdout, /Event \(9 bytes, UTF-8 text\):\n\{not json$/);
  const raw = await run(["show", "2", "--raw", "-c", s.config]);
  assert.equal(raw.stdout, "");
  assert.deepEqual(raw.raw, [encoder.encode("{not json")]);
  const asJson = JSON.parse((await run(["show", "3", "--json", "-c", s.config])).stdout);
  assert.equal(asJson.code, "event_invalid");
  assert.deepEqual(JSON.parse(asJson.rawText), invalidB);
});

integrationTest(
  "central dlq show of an unknown seq or of an edge dead letter fails (exit 1)",
  async () => {
    await using s = await site();
    const unknown = await run(["show", "99", "-c", s.config]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No central dead letter 99 in stream DEAD_LETTERS/);
    const edge = await run(["show", "4", "-c", s.config]);
    assert.equal(edge.code, 1);
    assert.match(edge.stderr, /No central dead letter 4 \(that is a dlq\.edge\.A message\)/);
  },
);

integrationTest(
  "central dlq replay republishes the event to its subject, then deletes the dead letter",
  async () => {
    await using s = await site();
    const r = await run(["replay", "1", "-c", s.config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^1: replayed to lots\.events\.A\.sap \(LOT_EVENTS seq 1\), dead letter deleted$/,
    );
    assert.match(r.stderr, /Replayed 1, still failing 0, skipped 0/);
    const [event] = await readStream(s.nc, "LOT_EVENTS");
    assert.equal(event.subject, "lots.events.A.sap");
    assert.equal(event.msgId, "replay:1:central:LOT_EVENTS:5");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(event.data)), eventA);
    assert.equal(await stored(s.nc, 1), null, "the dead letter is gone");
    const again = await run(["replay", "1", "-c", s.config]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /No central dead letter 1 in stream DEAD_LETTERS/);
  },
);

integrationTest(
  "central dlq replay --dry-run changes nothing; --all with filters replays those",
  async () => {
    await using s = await site();
    const dry = await run(["replay", "--all", "--dry-run", "-c", s.config]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(dry.stdout.split("\n").map((l) => l.split(":")[0]), ["1", "2", "3", "5"]);
    assert.match(
      dry.stdout,
      new RegExp(
        `^5: would replay to lots\\.events\\.B\\.dynamics \\(event ${eventB.eventId}\\)$`,
        "m",
      ),
    );
    assert.match(dry.stderr, /Dry run: would replay 4, skip 0; nothing published or deleted/);
    assert.equal((await readStream(s.nc, "LOT_EVENTS")).length, 0);
    assert.notEqual(await stored(s.nc, 1), null);
    const r = await run(
      ["replay", "--all", "--plant", "B", "--json", "-c", s.config],
      { progressIntervalMs: 0 },
    );
    assert.equal(r.code, 0, r.stderr);
    const results = r.stdout.split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(results.map((x) => [x.seq, x.outcome, x.subject]), [
      [3, "replayed", "lots.events.B.dynamics"],
      [5, "replayed", "lots.events.B.dynamics"],
    ]);
    assert.match(r.stderr, /… 1 of 2 checked: replayed 1, still failing 0, skipped 0/);
    const events = await readStream(s.nc, "LOT_EVENTS");
    assert.deepEqual(events.map((e) => e.msgId), [
      "replay:3:central:LOT_EVENTS:7",
      "replay:5:central:LOT_EVENTS:9",
    ]);
    assert.equal(await stored(s.nc, 3), null);
    assert.equal(await stored(s.nc, 5), null);
    assert.deepEqual(seqs((await run(["list", "--json", "-c", s.config])).stdout), [1, 2]);
  },
);

integrationTest(
  "central dlq replay keeps what it cannot publish (exit 1) and skips what has no subject",
  async () => {
    await using s = await site();
    const nowhere = await publishDeadLetter(s.nc, {
      ...(LETTERS[0] as Letter),
      subject: "nowhere.A",
      streamSeq: 20,
    });
    const { subject: _s, ...noSubject } = LETTERS[0] as Letter;
    const unknown = await publishDeadLetter(s.nc, { ...noSubject, streamSeq: 21 });
    const r = await run(["replay", String(nowhere), String(unknown), "-c", s.config]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      new RegExp(
        `^${nowhere}: still failing: cannot publish to "nowhere\\.A": no stream captures`,
        "m",
      ),
    );
    assert.match(r.stdout, new RegExp(`^${unknown}: skipped: no Plantgate-Subject header`, "m"));
    assert.match(r.stderr, /Replayed 0, still failing 1, skipped 1/);
    assert.notEqual(await stored(s.nc, nowhere), null);
    assert.notEqual(await stored(s.nc, unknown), null);
  },
);

integrationTest("central dlq purge is a dry run without --yes, for --all too", async () => {
  await using s = await site();
  const dry = await run(["purge", "--all", "--code", "apply_failed", "-c", s.config]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    /^SEQ\s+TIME\s+PLANT\s+CODE\s+STAGE\s+EVENT ID\s+MESSAGE\n1\s[\s\S]*\n5\s/,
  );
  assert.match(dry.stderr, /Dry run: would delete 2 dead letter\(s\); add --yes to delete/);
  assert.deepEqual(seqs((await run(["list", "--json", "-c", s.config])).stdout), [1, 2, 3, 5]);
  const yes = await run(
    ["purge", "--all", "--code", "apply_failed", "--yes", "--json", "-c", s.config],
  );
  assert.equal(yes.code, 0, yes.stderr);
  assert.deepEqual(yes.stdout.split("\n").map((l) => JSON.parse(l).action), ["deleted", "deleted"]);
  assert.match(yes.stderr, /Deleted 2 dead letter\(s\)/);
  const named = await run(["purge", "2", "--yes", "-c", s.config]);
  assert.equal(named.code, 0, named.stderr);
  assert.deepEqual(seqs((await run(["list", "--json", "-c", s.config])).stdout), [3]);
  assert.notEqual(await stored(s.nc, 4), null, "the edge's dead letter is not touched");
  const none = await run(["purge", "--all", "--plant", "C", "--yes", "-c", s.config]);
  assert.equal(none.code, 0);
  assert.match(none.stderr, /No dead letters match; nothing to delete/);
  const gone = await run(["purge", "1", "--yes", "-c", s.config]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /No central dead letter 1/);
});

integrationTest(
  "main.ts dlq picks the central dead letters when given a central config",
  async () => {
    await using s = await site();
    const main = new URL("../../main.ts", import.meta.url).pathname;
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "dlq", ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder();
      return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
    };
    const list = await run("list", "--config", s.config, "--json", "--plant", "A");
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(seqs(list.stdout.trim()), [1, 2]);
    const help = await run("--help", `--config=${s.config}`);
    assert.match(help.stdout, /DEAD_LETTERS under dlq\.central\.<plant>/);
    const edgeHelp = await run("--help");
    assert.match(edgeHelp.stdout, /Given a central config \(-c central\.yaml\)/);
  },
);
