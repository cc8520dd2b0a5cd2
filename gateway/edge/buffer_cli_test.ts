import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type DcsEvent, dcsEventId } from "../central/jobs/dcs_message.ts";
import type { CanonicalLotEvent } from "../core/canonical_event.ts";
import { Buffer, type BufferedEvent } from "./buffer.ts";
import { runBufferCommand } from "./buffer_cli.ts";
import { captureIo, formatBytes, formatDuration } from "./cli_io.ts";
import { dcsEventsTopic, decodeDcsMessage } from "./dcs.ts";

/** A temp dir with an edge config whose buffer (10 MiB) lives in it; removed on dispose. */
async function site(): Promise<{ dir: string; config: string; buffer: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-buffer-cli-" });
  const buffer = `${dir}/buffer.db`;
  const config = `${dir}/edge.yaml`;
  await Deno.writeTextFile(
    config,
    `plantId: A
timeZone: Europe/Berlin
sources:
  - topic: plant/A/erp/sap/lot/events
    plugin: sap
buffer:
  path: ${buffer}
  maxBytes: 10MiB
`,
  );
  return {
    dir,
    config,
    buffer,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

function event(n: number, ageMs = 192_000): CanonicalLotEvent {
  return {
    schemaVersion: 1,
    eventId: crypto.randomUUID(),
    eventType: n % 2 ? "LOT_CREATED" : "LOT_CONSUMED",
    timestamp: "2026-03-15T09:22:03Z",
    observedAt: new Date(Date.now() - ageMs).toISOString(),
    plantId: "A",
    sourceSystem: "sap",
    lotId: `LOT-${n % 3}`,
    material: "100200",
    quantity: 10 * n,
    uom: "KGM",
    parents: [],
    source: { documentId: `DOC-${n}`, plugin: "sap", pluginVersion: "1.0.0" },
  };
}

/** Creates (or adds to) a buffer with events 1..count. */
function fill(path: string, count: number, ageMs?: number): CanonicalLotEvent[] {
  const events = Array.from({ length: count }, (_, i) => event(i + 1, ageMs));
  const buffer = Buffer.open(path);
  try {
    buffer.commit([{ kind: "events", subject: "lots.events.A.sap", events }]);
  } finally {
    buffer.close();
  }
  return events;
}

function dcsEvent(n: number): DcsEvent {
  const jobOrderId = `JO-${n % 2}`;
  const transition = n % 2 ? "FromAllowedToStartToRunning" : "FromRunningToEnded";
  return {
    eventId: dcsEventId("A", "press-7", { jobOrderId, transition, run: `r${n}` }),
    scope: "press-7",
    jobOrderId,
    transition,
    ...(n % 2 ? {} : {
      response: { JobResponseID: `JR-${n}`, JobOrderID: jobOrderId, JobResponseData: [] },
    }),
    at: "2026-05-01T10:00:12.345Z",
  } as DcsEvent;
}

/** Adds DCS job events 1..count of scope press-7, committed the way ingest does. */
function fillDcs(path: string, count: number, ageMs = 60_000): DcsEvent[] {
  const events = Array.from({ length: count }, (_, i) => dcsEvent(i + 1));
  const buffer = Buffer.open(path);
  try {
    buffer.commit(events.map((e) => {
      const intake = decodeDcsMessage("A", "press-7", {
        topic: dcsEventsTopic("A", "press-7"),
        payload: new TextEncoder().encode(JSON.stringify(e)),
        qos: 1,
        dup: false,
        receivedAt: new Date(Date.now() - ageMs),
      });
      assert.equal(intake.kind, "records");
      return intake;
    }));
  } finally {
    buffer.close();
  }
  return events;
}

/** Every row of the buffer at `path`. */
function rowsOf(path: string): BufferedEvent[] {
  const buffer = Buffer.open(path);
  try {
    return buffer.peek(0, 100);
  } finally {
    buffer.close();
  }
}

async function run(...args: string[]) {
  const io = captureIo();
  const code = await runBufferCommand(args, io);
  return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n") };
}

Deno.test("buffer --help lists the subcommands and exits 0", async () => {
  const r = await run("--help");
  assert.equal(r.code, 0);
  for (const sub of ["stats", "list", "export", "requeue", "verify"]) {
    assert.match(r.stdout, new RegExp(`^  ${sub}`, "m"));
  }
});

Deno.test("every buffer subcommand has --help", async () => {
  for (const sub of ["stats", "list", "export", "requeue", "verify"]) {
    const r = await run(sub, "--help");
    assert.equal(r.code, 0, sub);
    assert.match(r.stdout, new RegExp(`^Usage: main.ts buffer ${sub}`), sub);
  }
});

Deno.test("buffer without a subcommand, or with an unknown one, is bad usage", async () => {
  const none = await run();
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Missing subcommand/);
  const unknown = await run("stat");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown subcommand "stat"[\s\S]*Usage: main.ts buffer/);
});

Deno.test("an unknown flag or a bad number is bad usage naming it", async () => {
  const flag = await run("stats", "--bogus");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--bogus[\s\S]*Usage: main.ts buffer stats/);
  const limit = await run("list", "--limit", "many");
  assert.equal(limit.code, 2);
  assert.match(limit.stderr, /--limit must be a whole number of at least 1, got "many"/);
});

Deno.test("buffer stats shows backlog, oldest unsent age, space used and dead letters", async () => {
  await using s = await site();
  fill(s.buffer, 3);
  const buffer = Buffer.open(s.buffer);
  buffer.commit([{
    kind: "dead",
    topic: "plant/A/erp/sap/lot/events",
    stage: "decode",
    code: "invalid_json",
    message: "payload is not JSON",
    raw: new TextEncoder().encode("{oops"),
    receivedAt: Date.now(),
  }]);
  buffer.close();
  const r = await run("stats", "-c", s.config);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /backlog\s+3 events \(3 lot\), [\d.]+ (B|KiB)/);
  assert.match(r.stdout, /oldest unsent\s+3m 1\ds ago/);
  assert.match(r.stdout, /used\s+[\d.]+ (B|KiB) of 10\.0 MiB \(\d+\.\d%\)/);
  assert.match(r.stdout, /dead letters\s+1 \(1 not yet forwarded\)/);
  const json = JSON.parse((await run("stats", "--buffer", s.buffer, "--json")).stdout);
  assert.equal(json.backlog, 3);
  assert.deepEqual(json.backlogByKind, { lot: 3 });
  assert.equal(json.maxBytes, 1024 ** 3, "--buffer without -c uses the default maxBytes");
  assert.ok(json.oldestUnsentAgeSeconds >= 192);
  assert.equal(json.deadLettersUnforwarded, 1);
});

Deno.test("buffer list shows events in order, pages with --after and filters by lot", async () => {
  await using s = await site();
  const events = fill(s.buffer, 5);
  const all = await run("list", "-c", s.config);
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.split("\n");
  assert.match(lines[0], /^SEQ\s+KIND\s+EVENT ID\s+TYPE\s+LOT\/JOB\s+SUBJECT\s+AGE$/);
  assert.equal(lines.length, 6);
  assert.match(
    lines[1],
    new RegExp(`^1\\s+lot\\s+${events[0].eventId}\\s+LOT_CREATED\\s+LOT-1\\s+`),
  );
  assert.match(lines[1], /lots\.events\.A\.sap\s+3m 1\ds$/);
  const page = await run("list", "-c", s.config, "--limit", "2", "--after", "1");
  assert.deepEqual(page.stdout.split("\n").slice(1).map((l) => l.split(/\s+/)[0]), [
    "2",
    "3",
    "(more:",
  ]);
  assert.match(page.stdout, /\(more: --after 3\)/);
  const lot = await run("list", "-c", s.config, "--lot", "LOT-2", "--json");
  const rows = lot.stdout.split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.seq), [2, 5]);
  assert.equal(rows[0].eventId, events[1].eventId);
  assert.equal(rows[0].kind, "lot");
});

Deno.test("buffer export writes every event as JSON lines to stdout or a new file", async () => {
  await using s = await site();
  const events = fill(s.buffer, 4);
  const r = await run("export", "-c", s.config);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.event), events);
  assert.deepEqual(lines[0], {
    kind: "lot",
    subject: "lots.events.A.sap",
    receivedAt: events[0].observedAt,
    event: events[0],
  });
  assert.match(r.stderr, /Exported 4 events/);
  const out = `${s.dir}/export.jsonl`;
  assert.equal((await run("export", "-c", s.config, "--out", out)).code, 0);
  const text = await Deno.readTextFile(out);
  assert.deepEqual(text.trimEnd().split("\n").map((l) => JSON.parse(l).event), events);
  const again = await run("export", "-c", s.config, "--out", out);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /the file exists/);
});

Deno.test("buffer export reports progress every 10,000 events", async () => {
  await using s = await site();
  fill(s.buffer, 10_500);
  const r = await run("export", "--buffer", s.buffer, "--out", `${s.dir}/big.jsonl`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^exported 10000 of about 10500 events$/m);
  assert.match(r.stderr, /Exported 10500 events to /);
});

Deno.test("buffer requeue puts exported events into a fresh buffer, then counts duplicates", async () => {
  await using s = await site();
  const events = fill(s.buffer, 3);
  const file = `${s.dir}/export.jsonl`;
  assert.equal((await run("export", "--buffer", s.buffer, "--out", file)).code, 0);
  const fresh = `${s.dir}/fresh.db`;
  const refused = await run("requeue", file, "--buffer", fresh);
  assert.equal(refused.code, 2, "no buffer is created by accident");
  assert.match(refused.stderr, /No buffer file at ".*fresh\.db" \(--buffer\)/);
  const first = await run("requeue", file, "--buffer", fresh, "--create");
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /Created a new buffer at .*fresh\.db/);
  assert.match(first.stdout, /3 events \(3 lot\), 3 stored, 0 duplicates/);
  const second = await run("requeue", file, "--buffer", fresh, "--json");
  assert.deepEqual(JSON.parse(second.stdout), {
    file,
    events: 3,
    byKind: { lot: 3 },
    stored: 0,
    duplicates: 3,
  });
  const buffer = Buffer.open(fresh);
  try {
    const rows = buffer.peek(0, 10);
    assert.deepEqual(rows.map((r) => r.eventId), events.map((e) => e.eventId));
    assert.deepEqual(rows.map((r) => r.subject), Array(3).fill("lots.events.A.sap"));
  } finally {
    buffer.close();
  }
});

Deno.test("buffer requeue names each bad line and its field, and writes nothing", async () => {
  await using s = await site();
  fill(s.buffer, 1);
  const good = event(7);
  const { quantity: _, ...noQuantity } = event(8);
  const file = `${s.dir}/bad.jsonl`;
  await Deno.writeTextFile(
    file,
    [JSON.stringify(good), JSON.stringify(noQuantity), "{not json", ""].join("\n"),
  );
  const r = await run("requeue", file, "-c", s.config);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /bad\.jsonl:2 \(lot\): missing required field "quantity" \(field "quantity"\)/,
  );
  assert.match(r.stderr, /bad\.jsonl:3: not JSON/);
  assert.match(r.stderr, /Nothing requeued: 2 invalid line\(s\)/);
  const stats = JSON.parse((await run("stats", "-c", s.config, "--json")).stdout);
  assert.equal(stats.backlog, 1, "the good line was not written either");
});

Deno.test("buffer requeue without a file, or with a missing one, is bad usage", async () => {
  await using s = await site();
  fill(s.buffer, 1);
  const none = await run("requeue", "-c", s.config);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Missing the file to requeue/);
  const missing = await run("requeue", `${s.dir}/nope.jsonl`, "-c", s.config);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Cannot read ".*nope\.jsonl"/);
});

Deno.test("buffer verify passes a sound buffer", async () => {
  await using s = await site();
  fill(s.buffer, 3);
  const r = await run("verify", "-c", s.config);
  assert.equal(r.code, 0, r.stdout);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /is sound: 3 events checked/);
});

Deno.test("buffer verify lists a corrupted body and an event_id mismatch by seq", async () => {
  await using s = await site();
  fill(s.buffer, 3);
  const db = new DatabaseSync(s.buffer);
  try {
    db.prepare("UPDATE events SET body = ?, bytes = 9 WHERE seq = 2")
      .run(new TextEncoder().encode("{not json"));
    db.prepare("UPDATE events SET event_id = ? WHERE seq = 3").run(crypto.randomUUID());
  } finally {
    db.close();
  }
  const r = await run("verify", "-c", s.config);
  assert.equal(r.code, 1);
  const lines = r.stdout.split("\n");
  assert.equal(lines.length, 2, r.stdout);
  assert.match(lines[0], /^seq 2 \(lot\): body is not JSON/);
  assert.match(lines[1], /^seq 3 \(lot\): event_id column ".*" differs from the body's eventId/);
  assert.match(r.stderr, /2 problem\(s\)/);
  const json = await run("verify", "-c", s.config, "--json");
  assert.equal(JSON.parse(json.stdout.split("\n")[0]).seq, 2);
  assert.equal(JSON.parse(json.stdout.split("\n")[0]).kind, "lot");
});

Deno.test("buffer stats counts the backlog of each kind", async () => {
  await using s = await site();
  fill(s.buffer, 3);
  fillDcs(s.buffer, 2);
  const r = await run("stats", "-c", s.config);
  assert.match(r.stdout, /backlog\s+5 events \(3 lot, 2 dcs\), /);
  const json = JSON.parse((await run("stats", "-c", s.config, "--json")).stdout);
  assert.deepEqual(json.backlogByKind, { lot: 3, dcs: 2 });
});

Deno.test("buffer list shows DCS job events with their transition and job, and filters by job", async () => {
  await using s = await site();
  fill(s.buffer, 1);
  const dcs = fillDcs(s.buffer, 3);
  const r = await run("list", "-c", s.config);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[1], /^1\s+lot\s+\S+\s+LOT_CREATED\s+LOT-1\s+lots\.events\.A\.sap\s/);
  assert.match(
    lines[2],
    new RegExp(
      `^2\\s+dcs\\s+${dcs[0].eventId}\\s+FromAllowedToStartToRunning\\s+JO-1\\s+` +
        `jobs\\.events\\.A\\.press-7\\s+1m 0s$`,
    ),
  );
  const job = await run("list", "-c", s.config, "--job", "JO-0", "--json");
  const rows = job.stdout.split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.seq, r.kind, r.transition, r.scope, r.jobOrderId]), [
    [3, "dcs", "FromRunningToEnded", "press-7", "JO-0"],
  ]);
  assert.equal(rows[0].eventId, dcs[1].eventId);
  assert.equal((await run("list", "-c", s.config, "--lot", "JO-0")).stdout.split("\n").length, 1);
  const both = await run("list", "-c", s.config, "--lot", "LOT-1", "--job", "JO-0");
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--lot and --job exclude each other/);
});

Deno.test("buffer verify checks DCS job events against the DCS schema and names the kind", async () => {
  await using s = await site();
  fill(s.buffer, 2);
  const dcs = fillDcs(s.buffer, 3);
  const sound = await run("verify", "-c", s.config);
  assert.equal(sound.code, 0, sound.stdout);
  assert.match(sound.stderr, /is sound: 5 events checked \(2 lot, 3 dcs\)/);
  const db = new DatabaseSync(s.buffer);
  try {
    const bad = new TextEncoder().encode(JSON.stringify({ ...dcs[0], transition: "Explode" }));
    db.prepare("UPDATE events SET body = ?, bytes = ? WHERE seq = 3").run(bad, bad.byteLength);
    db.prepare("UPDATE events SET lot_key = 'job:press-7:JO-9' WHERE seq = 4").run();
    db.prepare("UPDATE events SET subject = 'jobs.events.A.press-8' WHERE seq = 5").run();
    db.prepare("UPDATE events SET subject = 'misc.A' WHERE seq = 1").run();
  } finally {
    db.close();
  }
  const r = await run("verify", "-c", s.config);
  assert.equal(r.code, 1);
  const lines = r.stdout.split("\n");
  assert.equal(lines.length, 4, r.stdout);
  assert.match(lines[0], /^seq 1 \(unknown\): subject "misc\.A" is of no known kind/);
  assert.match(lines[1], /^seq 3 \(dcs\): body fails the DCS event schema .*: transition: must be/);
  assert.match(lines[2], /^seq 4 \(dcs\): lot key "job:press-7:JO-9" should be "job:press-7:JO-0"/);
  assert.match(
    lines[3],
    /^seq 5 \(dcs\): subject "jobs\.events\.A\.press-8" should be "jobs\.events\.<plant>\.press-7"/,
  );
  assert.match(r.stderr, /4 problem\(s\) .*\(5 events checked \(1 lot, 3 dcs, 1 unknown\)\)/);
  const json = await run("verify", "-c", s.config, "--json");
  assert.equal(JSON.parse(json.stdout.split("\n")[1]).kind, "dcs");
});

Deno.test("buffer export and requeue round-trip DCS job events with ids, subjects and receipt times", async () => {
  await using s = await site();
  fill(s.buffer, 2);
  const dcs = fillDcs(s.buffer, 2, 120_000);
  const file = `${s.dir}/export.jsonl`;
  const exported = await run("export", "--buffer", s.buffer, "--out", file);
  assert.equal(exported.code, 0, exported.stderr);
  const lines = (await Deno.readTextFile(file)).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.kind), ["lot", "lot", "dcs", "dcs"]);
  assert.deepEqual(lines[2].event, dcs[0]);
  assert.equal(lines[2].subject, "jobs.events.A.press-7");
  const fresh = `${s.dir}/fresh.db`;
  const r = await run("requeue", file, "--buffer", fresh, "--create");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 events \(2 lot, 2 dcs\), 4 stored, 0 duplicates/);
  const strip = ({ seq: _, ...row }: BufferedEvent) => row;
  assert.deepEqual(rowsOf(fresh).map(strip), rowsOf(s.buffer).map(strip));
  const again = await run("requeue", file, "--buffer", fresh, "--json");
  assert.deepEqual(JSON.parse(again.stdout).byKind, { lot: 2, dcs: 2 });
  assert.equal(JSON.parse(again.stdout).duplicates, 4);
  const verify = await run("verify", "--buffer", fresh);
  assert.equal(verify.code, 0, verify.stdout);
});

Deno.test("buffer requeue checks each line by its kind and refuses unknown kinds by line", async () => {
  await using s = await site();
  fill(s.buffer, 1);
  const subject = "jobs.events.A.press-7";
  const line = (o: unknown) => JSON.stringify(o);
  const file = `${s.dir}/bad.jsonl`;
  await Deno.writeTextFile(
    file,
    [
      line({ kind: "dcs", subject, event: dcsEvent(1) }),
      line({ kind: "dcs", subject, event: { ...dcsEvent(2), transition: "Explode" } }),
      line({ kind: "dcs", subject: "jobs.events.A.press-8", event: dcsEvent(3) }),
      line({ kind: "job", subject, event: dcsEvent(4) }),
      line({ kind: "lot", event: event(5) }),
      line({ kind: "dcs", subject, receivedAt: "yesterday", event: dcsEvent(6) }),
    ].join("\n"),
  );
  const r = await run("requeue", file, "-c", s.config);
  assert.equal(r.code, 1);
  const errors = r.stderr.split("\n");
  assert.match(errors[0], /bad\.jsonl:2 \(dcs\): transition: must be an internal transition/);
  assert.match(errors[1], /bad\.jsonl:3 \(dcs\): subject "jobs\.events\.A\.press-8" should be/);
  assert.match(errors[2], /bad\.jsonl:4: unknown kind "job": expected "lot" or "dcs"/);
  assert.match(errors[3], /bad\.jsonl:5 \(lot\): "subject" is missing or not a string/);
  assert.match(errors[4], /bad\.jsonl:6 \(dcs\): "receivedAt" is not an ISO 8601 date-time/);
  assert.match(errors[5], /Nothing requeued: 5 invalid line\(s\)/);
  assert.equal(rowsOf(s.buffer).length, 1, "the good DCS line was not written either");
});

Deno.test("a bare canonical event line (an export from before DCS rows) is requeued as lot", async () => {
  await using s = await site();
  fill(s.buffer, 1);
  const old = event(4);
  const file = `${s.dir}/old.jsonl`;
  await Deno.writeTextFile(file, JSON.stringify(old) + "\n");
  const r = await run("requeue", file, "-c", s.config);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 events \(1 lot\), 1 stored/);
  const row = rowsOf(s.buffer)[1];
  assert.deepEqual([row.eventId, row.subject], [old.eventId, "lots.events.A.sap"]);
});

Deno.test("a missing buffer file is reported, not created", async () => {
  await using s = await site();
  const r = await run("stats", "-c", s.config);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /No buffer file at ".*buffer\.db" \(buffer\.path in .*edge\.yaml\)/);
  await assert.rejects(Deno.stat(s.buffer), Deno.errors.NotFound);
});

Deno.test("an invalid config is exit 2 naming the file and line", async () => {
  await using s = await site();
  const yaml = await Deno.readTextFile(s.config);
  await Deno.writeTextFile(s.config, yaml.replace("Europe/Berlin", "Mars/Olympus"));
  const r = await run("stats", "-c", s.config);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /edge\.yaml:2:\d+: timeZone/);
});

Deno.test("ages and sizes read the way operators say them", () => {
  assert.deepEqual([0, 45_000, 192_000, 3_600_000, 183_600_000].map(formatDuration), [
    "0s",
    "45s",
    "3m 12s",
    "1h 0m",
    "2d 3h",
  ]);
  assert.deepEqual([512, 1536, 10 * 1024 ** 2, 1024 ** 3].map(formatBytes), [
    "512 B",
    "1.5 KiB",
    "10.0 MiB",
    "1.0 GiB",
  ]);
});
