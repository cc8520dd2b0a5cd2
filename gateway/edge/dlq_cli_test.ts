import assert from "node:assert/strict";
import { Buffer, type Intake } from "./buffer.ts";
import { captureIo, configFlag } from "./cli_io.ts";
import { runDlqCommand } from "./dlq_cli.ts";

const TOPIC = "plant/A/erp/sap/lot/events";
const encoder = new TextEncoder();

/** A valid SAP goods receipt (WMMBXY 101) from the plugin's golden fixtures. */
async function sapDocument(): Promise<Uint8Array> {
  const url = new URL(
    "../../plugins/sap/fixtures/01_wmmbxy_101_production_receipt.json",
    import.meta.url,
  );
  const fixture = JSON.parse(await Deno.readTextFile(url));
  return encoder.encode(JSON.stringify(fixture.native));
}

function dead(
  code: Extract<Intake, { kind: "dead" }>["code"],
  raw: Uint8Array,
  extra: { rawSize?: number; message?: string; field?: string } = {},
): Intake {
  return {
    kind: "dead",
    topic: TOPIC,
    stage: code === "payload_too_large" ? "ingest" : "decode",
    code,
    message: extra.message ?? `failed with ${code}`,
    raw,
    receivedAt: Date.parse("2026-03-15T09:22:03.412Z"),
    ...(extra.rawSize ? { rawSize: extra.rawSize } : {}),
    ...(extra.field ? { field: extra.field } : {}),
  };
}

/**
 * A temp dir with an edge config (sap source) and a buffer holding four dead letters:
 * 1 invalid_json whose bytes are in fact a valid SAP document (as if the plugin had a bug),
 * 2 a JSON document the SAP plugin cannot decode, 3 a payload cut at ingest, 4 not UTF-8.
 */
async function site(): Promise<{ dir: string; config: string; buffer: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-dlq-cli-" });
  const buffer = `${dir}/buffer.db`;
  const config = `${dir}/edge.yaml`;
  await Deno.writeTextFile(
    config,
    `plantId: A
timeZone: Europe/Berlin
sources:
  - topic: ${TOPIC}
    plugin: sap
buffer:
  path: ${buffer}
`,
  );
  const b = Buffer.open(buffer);
  try {
    b.commit([
      dead("invalid_json", await sapDocument(), { message: "payload is not JSON: Unexpected" }),
      dead("plugin_invalid_payload", encoder.encode('{"hello":"world"}'), { field: "WMMBID02" }),
      dead("payload_too_large", encoder.encode('{"big":'), { rawSize: 5_000_000 }),
      dead("invalid_utf8", new Uint8Array([0xff, 0xfe, 0x41, 0x00, 0x80])),
    ]);
  } finally {
    b.close();
  }
  return {
    dir,
    config,
    buffer,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Opens the site's buffer for a look (or a change) and closes it. */
function withBuffer<T>(path: string, fn: (buffer: Buffer) => T): T {
  const buffer = Buffer.open(path);
  try {
    return fn(buffer);
  } finally {
    buffer.close();
  }
}

async function run(...args: string[]) {
  const io = captureIo();
  const code = await runDlqCommand(args, io);
  return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n"), raw: io.raw };
}

Deno.test("dlq --help and every subcommand's --help exit 0", async () => {
  const top = await run("--help");
  assert.equal(top.code, 0);
  for (const sub of ["list", "show", "replay", "purge"]) {
    assert.match(top.stdout, new RegExp(`^  ${sub}`, "m"));
    const r = await run(sub, "-h");
    assert.equal(r.code, 0, sub);
    assert.match(r.stdout, new RegExp(`^Usage: main.ts dlq ${sub}`), sub);
  }
});

Deno.test("dlq with an unknown subcommand or flag is bad usage naming it", async () => {
  const sub = await run("lsit");
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /Unknown subcommand "lsit"/);
  const flag = await run("list", "--unforwared");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--unforwared[\s\S]*Usage: main.ts dlq list/);
  const code = await run("list", "--code", "bad_code");
  assert.equal(code.code, 2);
  assert.match(code.stderr, /--code "bad_code" is not an error code/);
});

Deno.test("dlq list shows dead letters and filters by code and by unforwarded", async () => {
  await using s = await site();
  withBuffer(s.buffer, (b) => b.markDeadLettersForwarded([1, 2]));
  const all = await run("list", "-c", s.config);
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.split("\n");
  assert.match(
    lines[0],
    /^ID\s+RECEIVED\s+TOPIC\s+STAGE\s+CODE\s+SIZE\s+FWD\s+REPLAYED\s+MESSAGE$/,
  );
  assert.equal(lines.length, 5);
  assert.match(
    lines[1],
    /^1\s+2026-03-15T09:22:03\.412Z\s+plant\/A\/erp\/sap\/lot\/events\s+decode\s+invalid_json\s+\d+ B\s+yes\s+no\s+payload is not JSON/,
  );
  assert.match(lines[3], /payload_too_large\s+4\.8 MiB \(cut\)\s+no\s+no/);
  const code = await run("list", "-c", s.config, "--code", "invalid_utf8", "--json");
  assert.deepEqual(code.stdout.split("\n").map((l) => JSON.parse(l).id), [4]);
  const unforwarded = await run("list", "-c", s.config, "--unforwarded", "--json", "--limit", "1");
  assert.deepEqual(unforwarded.stdout.split("\n").map((l) => JSON.parse(l).id), [3]);
  const paged = await run("list", "-c", s.config, "--after", "2", "--limit", "1");
  assert.match(paged.stdout, /^3\s[\s\S]*\(more: --after 3\)$/m);
});

Deno.test("dlq show prints every field and the bytes pretty-printed when JSON", async () => {
  await using s = await site();
  const r = await run("show", "2", "-c", s.config);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^dead letter\s+2 \([0-9a-f-]{36}\)$/m);
  assert.match(r.stdout, /^code\s+plugin_invalid_payload$/m);
  assert.match(r.stdout, /^field\s+WMMBID02$/m);
  assert.match(r.stdout, /^forwarded\s+no$/m);
  assert.match(
    r.stdout,
    /Raw bytes \(17 bytes, JSON, pretty-printed\):\n\{\n {2}"hello": "world"\n\}/,
  );
  const cut = await run("show", "3", "-c", s.config);
  assert.match(cut.stdout, /size\s+5000000 bytes, first 7 kept/);
  assert.match(cut.stdout, /Raw bytes \(7 bytes, UTF-8 text, cut at ingest\):\n\{"big":$/);
});

Deno.test("dlq show dumps bytes that are not UTF-8 in hex, and --raw writes them exactly", async () => {
  await using s = await site();
  const r = await run("show", "4", "-c", s.config);
  assert.match(r.stdout, /not UTF-8, hex dump\):\n00000000 {2}ff fe 41 00 80 {35}\.\.A\.\.$/);
  const raw = await run("show", "4", "-c", s.config, "--raw");
  assert.equal(raw.code, 0);
  assert.equal(raw.stdout, "");
  assert.deepEqual(raw.raw, [new Uint8Array([0xff, 0xfe, 0x41, 0x00, 0x80])]);
  const uuid = withBuffer(s.buffer, (b) => b.deadLetter(4)!.deadLetterId);
  assert.match((await run("show", uuid, "-c", s.config)).stdout, /^dead letter\s+4 /);
});

Deno.test("dlq show of an unknown id fails, and of a malformed id is bad usage", async () => {
  await using s = await site();
  const unknown = await run("show", "99", "-c", s.config);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /No dead letter 99/);
  const malformed = await run("show", "abc", "-c", s.config);
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /"abc" is not a dead letter id/);
});

Deno.test("dlq replay turns a dead letter that is a valid SAP document into events", async () => {
  await using s = await site();
  const r = await run("replay", "1", "-c", s.config);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^1: replayed: 1 event\(s\), 1 new, 0 already buffered or forwarded$/);
  assert.match(r.stderr, /Replayed 1, still failing 0, skipped 0/);
  withBuffer(s.buffer, (b) => {
    const [row] = b.peek(0, 10);
    assert.equal(row.subject, "lots.events.A.sap");
    const event = JSON.parse(new TextDecoder().decode(row.body));
    assert.equal(event.eventType, "LOT_CREATED");
    assert.equal(event.lotId, "B250314A07");
    assert.equal(
      event.observedAt,
      "2026-03-15T09:22:03.412Z",
      "observedAt is the original receipt",
    );
    assert.notEqual(b.deadLetter(1)!.replayedAt, null);
  });
  const again = await run("replay", "1", "-c", s.config);
  assert.match(again.stdout, /^1: skipped: already replayed at /);
});

Deno.test("dlq replay --all reports what still fails and what cannot be replayed, and leaves it", async () => {
  await using s = await site();
  const r = await run("replay", "--all", "-c", s.config, "--json");
  assert.equal(r.code, 1, "a dead letter still fails");
  const results = r.stdout.split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(results.map((x) => [x.id, x.outcome]), [
    [1, "replayed"],
    [2, "failing"],
    [3, "skipped"],
    [4, "failing"],
  ]);
  assert.match(
    results[2].reason,
    /cut at ingest \(7 of 5000000 bytes kept\): it cannot be replayed/,
  );
  assert.equal(results[3].code, "invalid_utf8");
  assert.match(r.stderr, /Replayed 1, still failing 2, skipped 1/);
  withBuffer(s.buffer, (b) => {
    assert.equal(b.deadLetter(2)!.replayedAt, null);
    assert.equal(b.deadLetter(2)!.code, "plugin_invalid_payload");
  });
  const byCode = await run("replay", "--all", "--code", "invalid_utf8", "-c", s.config);
  assert.match(byCode.stdout, /^4: still failing: invalid_utf8: payload is not valid UTF-8$/);
});

Deno.test("dlq replay needs ids or --all, not both", async () => {
  await using s = await site();
  assert.equal((await run("replay", "-c", s.config)).code, 2);
  const both = await run("replay", "1", "--all", "-c", s.config);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /ids or --all, not both/);
  const code = await run("replay", "1", "--code", "invalid_json", "-c", s.config);
  assert.equal(code.code, 2);
  assert.match(code.stderr, /--code only applies with --all/);
});

Deno.test("dlq purge without --yes only shows what would be deleted", async () => {
  await using s = await site();
  withBuffer(s.buffer, (b) => b.markDeadLettersForwarded([1, 2]));
  const r = await run("purge", "1", "2", "-c", s.config);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^1\s/m);
  assert.match(r.stderr, /Dry run: would delete 2 dead letter\(s\); add --yes/);
  withBuffer(s.buffer, (b) => assert.equal(b.deadLetters().length, 4));
  const yes = await run("purge", "1", "2", "-c", s.config, "--yes");
  assert.equal(yes.code, 0, yes.stderr);
  assert.match(yes.stderr, /Deleted 2 dead letter\(s\)/);
  withBuffer(s.buffer, (b) => assert.deepEqual(b.deadLetters().map((d) => d.id), [3, 4]));
});

Deno.test("dlq purge refuses dead letters not yet forwarded unless --force", async () => {
  await using s = await site();
  await run("replay", "1", "-c", s.config);
  const dry = await run("purge", "--replayed", "-c", s.config);
  assert.equal(dry.code, 0);
  assert.match(dry.stderr, /--yes alone would be refused/);
  const refused = await run("purge", "--replayed", "-c", s.config, "--yes");
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Refusing to purge 1 dead letter\(s\), nothing deleted/);
  assert.match(refused.stderr, /not yet forwarded to the centre \(id 1\): .*loses them for good/);
  withBuffer(s.buffer, (b) => assert.equal(b.deadLetters().length, 4));
  const forced = await run("purge", "--replayed", "-c", s.config, "--yes", "--force");
  assert.equal(forced.code, 0, forced.stderr);
  withBuffer(s.buffer, (b) => assert.deepEqual(b.deadLetters().map((d) => d.id), [2, 3, 4]));
});

Deno.test("dlq purge --forwarded-before selects by forwarding time", async () => {
  await using s = await site();
  withBuffer(s.buffer, (b) => b.markDeadLettersForwarded([3]));
  const future = new Date(Date.now() + 60_000).toISOString();
  const past = await run("purge", "--forwarded-before", "2020-01-01", "-c", s.config, "--yes");
  assert.match(past.stderr, /No dead letters match/);
  const r = await run("purge", "--forwarded-before", future, "-c", s.config, "--yes", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ...JSON.parse(r.stdout), action: "deleted", id: 3 });
  const bad = await run("purge", "--forwarded-before", "last week", "-c", s.config);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--forwarded-before "last week" is not an ISO date/);
  const mixed = await run("purge", "1", "--replayed", "-c", s.config);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /exactly one of/);
});

Deno.test("configFlag finds -c in every spelling, the last one winning, up to --", () => {
  assert.equal(configFlag(["list", "-c", "a.yaml"]), "a.yaml");
  assert.equal(configFlag(["list", "--config", "a.yaml", "--json"]), "a.yaml");
  assert.equal(configFlag(["--config=a.yaml", "show", "1"]), "a.yaml");
  assert.equal(configFlag(["-ca.yaml"]), "a.yaml");
  assert.equal(configFlag(["-c", "a.yaml", "-c", "b.yaml"]), "b.yaml");
  assert.equal(configFlag(["list", "--", "-c", "a.yaml"]), undefined);
  assert.equal(configFlag(["list", "--code", "invalid_json"]), undefined);
});
