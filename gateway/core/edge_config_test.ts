import assert from "node:assert/strict";
import { PlantgateError } from "./errors.ts";
import { loadEdgeConfig } from "./edge_config.ts";

const EXAMPLE = new URL("../../config/edge.example.yaml", import.meta.url).pathname;

async function write(yaml: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-config-" });
  await Deno.writeTextFile(`${dir}/edge.yaml`, yaml);
  return `${dir}/edge.yaml`;
}

const MINIMAL = `plantId: A
timeZone: Europe/Berlin
sources:
  - topic: plant/A/erp/sap/lot/events
    plugin: sap
`;

async function problems(yaml: string, env: Record<string, string> = {}): Promise<string> {
  const file = await write(yaml);
  try {
    await loadEdgeConfig(file, { env });
  } catch (error) {
    assert.ok(error instanceof PlantgateError);
    assert.equal(error.code, "config_invalid");
    return error.message.replaceAll(file, "edge.yaml");
  }
  throw new assert.AssertionError({ message: "expected the config to be refused" });
}

Deno.test("the committed example loads, with every default applied", async () => {
  const config = await loadEdgeConfig(EXAMPLE, { env: {} });
  assert.equal(config.plantId, "A");
  assert.equal(config.mqtt.clientId, "plantgate-edge-A");
  assert.equal(config.buffer.maxBytes, 1024 ** 3);
  assert.equal(config.ingest.maxPayloadBytes, 1024 ** 2);
  assert.deepEqual(config.sources.map((s) => s.system), ["sap"]);
  assert.equal(config.buffer.path, new URL("../../config/buffer.db", import.meta.url).pathname);
});

Deno.test("a minimal config gets documented defaults", async () => {
  const config = await loadEdgeConfig(await write(MINIMAL), { env: {} });
  assert.equal(config.mqtt.url, "mqtt://127.0.0.1:1883");
  assert.equal(config.mqtt.receiveMaximum, 1000);
  assert.deepEqual(config.nats.servers, ["nats://127.0.0.1:4222"]);
  assert.equal(config.forwarder.backoff.maxMs, 30000);
  assert.equal(config.http.listen, "127.0.0.1:9464");
  assert.deepEqual(config.sources[0].options, {});
});

Deno.test("a typo'd key is named with its line, column and a did-you-mean", async () => {
  const message = await problems(MINIMAL + "buffer:\n  maxByte: 10MiB\n");
  assert.match(
    message,
    /edge\.yaml:7:3: buffer\.maxByte: unknown key \(did you mean "maxBytes"\?\)/,
  );
});

Deno.test("wrong types name the line and what was expected, all problems at once", async () => {
  const message = await problems(
    MINIMAL + "mqtt:\n  receiveMaximum: lots\n  keepaliveSeconds: -1\nlog:\n  level: loud\n",
  );
  assert.match(message, /3 problems/);
  assert.match(message, /edge\.yaml:7:19: mqtt\.receiveMaximum: must be an integer, got "lots"/);
  assert.match(message, /edge\.yaml:8:21: mqtt\.keepaliveSeconds: must be >= 1, got -1/);
  assert.match(
    message,
    /edge\.yaml:10:10: log\.level: must be one of "debug", "info", "warn", "error", got "loud"/,
  );
});

Deno.test("a password written in the YAML is refused with the way to pass it", async () => {
  const message = await problems(MINIMAL + "mqtt:\n  password: hunter2\n");
  assert.match(message, /mqtt\.password: secrets are not allowed .* use passwordEnv/);
  assert.doesNotMatch(message, /hunter2/);
});

Deno.test("secrets come from the environment, and a missing variable is named", async () => {
  const yaml = MINIMAL + "mqtt:\n  username: edge\n  passwordEnv: EDGE_PW\n";
  const config = await loadEdgeConfig(await write(yaml), { env: { EDGE_PW: "s3cret" } });
  assert.equal(config.mqtt.password, "s3cret");
  assert.match(await problems(yaml), /mqtt\.passwordEnv: environment variable EDGE_PW is not set/);
});

Deno.test("byte sizes accept units and relative paths resolve against the config folder", async () => {
  const file = await write(
    MINIMAL +
      "buffer:\n  path: state/b.db\n  maxBytes: 512MiB\ningest:\n  maxPayloadBytes: 64KiB\n",
  );
  const config = await loadEdgeConfig(file, { env: {} });
  assert.equal(config.buffer.maxBytes, 512 * 1024 ** 2);
  assert.equal(config.ingest.maxPayloadBytes, 64 * 1024);
  assert.equal(config.buffer.path, file.replace(/edge\.yaml$/, "state/b.db"));
  const systemd = await loadEdgeConfig(file, { env: { STATE_DIRECTORY: "/var/lib/plantgate" } });
  assert.equal(systemd.buffer.path, "/var/lib/plantgate/state/b.db");
});

Deno.test("a source topic of another plant is refused with the expected form", async () => {
  const message = await problems(MINIMAL.replace("plant/A/erp", "plant/B/erp"));
  assert.match(
    message,
    /edge\.yaml:4:12: sources\[0\]\.topic: must be plant\/A\/erp\/<system>\/lot\/events/,
  );
});

Deno.test("YAML syntax errors and duplicate keys carry their line", async () => {
  assert.match(await problems(MINIMAL + "log: [unclosed\n"), /edge\.yaml:\d+:\d+: \(yaml\): /);
  assert.match(
    await problems(MINIMAL + "plantId: B\n"),
    /edge\.yaml:6:1: plantId: duplicate key/,
  );
});

Deno.test("an unknown time zone is named", async () => {
  assert.match(
    await problems(MINIMAL.replace("Europe/Berlin", "Europe/Atlantis")),
    /edge\.yaml:2:11: timeZone: "Europe\/Atlantis" is not an IANA time zone/,
  );
});
