import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

Deno.test("every command answers --help with its usage and exit code 0", async () => {
  const commands = [
    ["--help"],
    ["edge", "--help"],
    ["central", "--help"],
    ["trace", "--help"],
    ["reconcile", "--help"],
    ["publisher", "--help"],
    ["mes-client", "--help"],
    ["simulate", "--help"],
    ["buffer", "--help"],
    ["dlq", "--help"],
    ["plugin", "--help"],
    ["check-config", "--help"],
    ["demo", "--help"],
  ];
  for (const args of commands) {
    const { code, stdout } = await run(...args);
    assert.equal(code, 0, `${args.join(" ")} exits 0`);
    assert.match(stdout, /Usage/, `${args.join(" ")} prints its usage`);
  }
});

Deno.test("an unknown command or flag is a usage error (exit 2) that says what was wrong", async () => {
  const unknown = await run("frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown command "frobnicate"/);
  const badFlag = await run("simulate", "--erp", "sap", "--cuont", "5");
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /cuont/);
  const badErp = await run("simulate", "--erp", "oracle");
  assert.equal(badErp.code, 2);
  assert.match(badErp.stderr, /--erp must be one of sap, dynamics, infor/);
});

Deno.test("check-config accepts the example and rejects a typo with file, line and key (exit 2)", async () => {
  const example = new URL("../config/edge.example.yaml", import.meta.url).pathname;
  const ok = await run("check-config", example);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok/);
  const dir = await Deno.makeTempDir({ prefix: "plantgate-cli-" });
  const bad = `${dir}/edge.yaml`;
  const text = (await Deno.readTextFile(example)).replace(/^(\s*)maxBytes:/m, "$1maxByte:");
  await Deno.writeTextFile(bad, text);
  const result = await run("check-config", bad);
  assert.equal(result.code, 2);
  const line = text.split("\n").findIndex((l) => /maxByte:/.test(l)) + 1;
  assert.match(result.stderr, new RegExp(`edge\\.yaml:${line}:\\d+: .*maxByte`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("check-config validates a central config: the example passes, a typo names its line", async () => {
  const example = new URL("../config/central.example.yaml", import.meta.url).pathname;
  const ok = await run("check-config", example);
  assert.equal(ok.code, 2, "the example names an unset password variable");
  assert.match(ok.stderr, /PLANTGATE_PG_PASSWORD is not set/);
  const dir = await Deno.makeTempDir({ prefix: "plantgate-cli-" });
  const good = `${dir}/central.yaml`;
  const text = (await Deno.readTextFile(example)).replace(/^\s*passwordEnv:.*\n/m, "");
  await Deno.writeTextFile(good, text);
  const passed = await run("check-config", good);
  assert.equal(passed.code, 0, passed.stderr);
  assert.match(passed.stdout, /ok \(central: postgres 127\.0\.0\.1:5432\/plantgate/);
  const bad = `${dir}/central-bad.yaml`;
  await Deno.writeTextFile(bad, text.replace("maxDeliver:", "maxDelivery:"));
  const failed = await run("check-config", bad);
  assert.equal(failed.code, 2);
  const line = text.split("\n").findIndex((l) => /maxDeliver:/.test(l)) + 1;
  assert.match(
    failed.stderr,
    new RegExp(`central-bad\\.yaml:${line}:\\d+: .*maxDelivery.*did you mean "maxDeliver"`),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("plugin test runs the built-in fixtures and reports them", async () => {
  for (const name of ["sap", "dynamics", "infor"]) {
    const { code, stdout } = await run("plugin", "test", name);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /(\d+) passed, 0 failed/);
    assert.ok(Number(/(\d+) passed/.exec(stdout)![1]) >= 8, `${name} has at least 8 fixtures`);
  }
});
