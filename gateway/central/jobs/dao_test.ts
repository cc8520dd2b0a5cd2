import assert from "node:assert/strict";
import { createLogger, silentLogger } from "../../core/logger.ts";
import { connectRedis, type Redis } from "../../io/redis.ts";
import { type PrivateServer, type RedisOptions, startRedis } from "../../sim/servers.ts";
import { RedisJobStore } from "./dao.ts";
import { applyMethod, type Job, type JobEvent } from "./mod.ts";
import { CHANGE_STREAM_MAXLEN, type JobResponse, KEYS } from "./store.ts";

const NOW = new Date("2026-03-01T08:00:00.000Z");

/** A private Redis, a client and a store with a fixed clock; disposing stops all three. */
interface Fixture extends AsyncDisposable {
  server: PrivateServer;
  redis: Redis;
  store: RedisJobStore;
}

async function privateStore(options: RedisOptions = {}, log = silentLogger): Promise<Fixture> {
  const server = await startRedis(options);
  const redis = await connectRedis({ url: server.url, log });
  return {
    server,
    redis,
    store: new RedisJobStore(redis, { now: () => NOW }),
    async [Symbol.asyncDispose]() {
      await close(redis);
      await server.stop();
    },
  };
}

/** QUIT and wait for the socket to close; a client whose server is gone just stops retrying. */
async function close(redis: Redis): Promise<void> {
  if (redis.status !== "ready") return redis.disconnect();
  const ended = new Promise((resolve) => redis.once("end", resolve));
  await redis.quit();
  await ended;
}

/** A job as the state machine makes it: `event` applied to `job` (Store when there is none). */
function apply(job: Job | undefined, event: JobEvent, args: object, at: string): Job {
  const result = applyMethod(job, event, args, new Date(at));
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.job;
}

function stored(id: string, at = "2026-03-01T07:00:00.000Z", extra: object = {}): Job {
  return apply(undefined, "Store", { JobOrder: { JobOrderID: id, ...extra } }, at);
}

/** Calls of a command since the last CONFIG RESETSTAT (INFO commandstats). */
async function calls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info("commandstats");
  return Number(info.match(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m"))?.[1] ?? 0);
}

/** The stream's entries as field objects. */
async function entries(redis: Redis, stream: string): Promise<Record<string, string>[]> {
  const raw = await redis.xrange(stream, "-", "+");
  return raw.map(([, fields]) => Object.fromEntries(chunk(fields)));
}

function chunk(fields: string[]): [string, string][] {
  return fields.flatMap((_, i) => i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []) as [
    string,
    string,
  ][];
}

Deno.test("save writes the record, its place, both change entries and the scope in one MULTI/EXEC", async () => {
  await using fx = await privateStore();
  const job = stored("job-1");
  await fx.redis.config("RESETSTAT");
  await fx.store.save("press-1", job, "Store");

  for (const command of ["multi", "exec", "set", "zadd", "sadd"]) {
    assert.equal(await calls(fx.redis, command), 1, command);
  }
  assert.equal(await calls(fx.redis, "xadd"), 2);
  assert.equal(await fx.redis.get(KEYS.job("press-1", "job-1")), JSON.stringify(job));
  assert.deepEqual(await fx.redis.zrange(KEYS.jobs("press-1"), 0, -1, "WITHSCORES"), [
    "job-1",
    String(Date.parse(job.storedAt)),
  ]);
  const entry = {
    change_type: "Store",
    job_order_id: "job-1",
    scope: "press-1",
    ts: NOW.toISOString(),
  };
  assert.deepEqual(await entries(fx.redis, KEYS.changes("press-1")), [entry]);
  assert.deepEqual(await entries(fx.redis, KEYS.globalChanges), [entry]);
  assert.deepEqual(await fx.store.scopes(), ["press-1"]);
});

Deno.test("a job comes back from Redis exactly as it was saved", async () => {
  await using fx = await privateStore();
  const job = stored("job-ü/1", "2026-03-01T07:00:00.123Z", {
    Description: [{ Locale: "de-DE", Text: "Presse — Lauf 1 ✓" }],
    StartTime: null,
    Priority: 2 ** 53 - 1,
    JobOrderParameters: [{ ID: "speed", Value: 1.5e-7, EngineeringUnits: { UnitId: 4408652 } }],
    Extension: { nested: [true, false, null, "", 0, -1.25] },
  });
  assert.equal(job.substate, "Ready");
  const running = apply(
    apply(job, "Start", { JobOrderID: job.order.JobOrderID }, "2026-03-01T07:01:00.000Z"),
    "FromAllowedToStartToRunning",
    { JobOrderID: job.order.JobOrderID },
    "2026-03-01T07:02:00.000Z",
  );
  assert.equal(running.substate, null);
  await fx.store.save("press-1", running, "FromAllowedToStartToRunning");
  assert.deepEqual(await fx.store.get("press-1", "job-ü/1"), running);
  assert.deepEqual(await fx.store.list("press-1"), [running]);
  assert.equal(await fx.store.get("press-1", "missing"), undefined);
  assert.equal(await fx.store.get("press-2", "job-ü/1"), undefined);
});

Deno.test("list returns the scope's jobs in store order with one MGET; an update keeps its place", async () => {
  await using fx = await privateStore();
  const c = stored("c", "2026-03-01T07:00:00.000Z");
  const a = stored("a", "2026-03-01T07:00:01.000Z");
  const b = stored("b", "2026-03-01T07:00:02.000Z");
  for (const job of [b, c, a]) await fx.store.save("press-1", job, "Store");
  await fx.store.save("press-2", stored("other"), "Store");
  const cStarted = apply(c, "Start", { JobOrderID: "c" }, "2026-03-01T07:05:00.000Z");
  await fx.store.save("press-1", cStarted, "Start");

  await fx.redis.config("RESETSTAT");
  assert.deepEqual(await fx.store.list("press-1"), [cStarted, a, b]);
  assert.equal(await calls(fx.redis, "mget"), 1);
  assert.equal(await calls(fx.redis, "get"), 0);
  assert.deepEqual(await fx.store.list("empty"), []);
});

Deno.test("active-scopes holds every scope that stored a job, once", async () => {
  await using fx = await privateStore();
  assert.deepEqual(await fx.store.scopes(), []);
  await fx.store.save("press-2", stored("j1"), "Store");
  await fx.store.save("press-1", stored("j2"), "Store");
  await fx.store.save("press-1", stored("j3"), "Store");
  assert.deepEqual(await fx.store.scopes(), ["press-1", "press-2"]);
  assert.deepEqual((await fx.redis.smembers(KEYS.activeScopes)).sort(), ["press-1", "press-2"]);
});

Deno.test("saveResponse writes the response and a ResultUpdate entry to both streams", async () => {
  await using fx = await privateStore();
  const response: JobResponse = {
    JobResponseID: "r-1",
    JobOrderID: "job-1",
    JobState: [{ StateText: { Text: "Ended" } }],
    EndTime: "2026-03-01T09:00:00Z",
  };
  assert.equal(await fx.store.getResponse("press-1", "job-1"), undefined);
  await fx.store.saveResponse("press-1", response);
  assert.deepEqual(await fx.store.getResponse("press-1", "job-1"), response);
  const entry = {
    change_type: "ResultUpdate",
    job_order_id: "job-1",
    scope: "press-1",
    ts: NOW.toISOString(),
  };
  assert.deepEqual(await entries(fx.redis, KEYS.changes("press-1")), [entry]);
  assert.deepEqual(await entries(fx.redis, KEYS.globalChanges), [entry]);
});

Deno.test("both change streams stay near 5000 entries after 6,000 saves", async () => {
  await using fx = await privateStore();
  for (let i = 0; i < 6_000; i += 500) {
    await Promise.all(
      Array.from(
        { length: 500 },
        (_, k) => fx.store.save("press-1", stored(`job-${(i + k) % 50}`), "Store"),
      ),
    );
  }
  // MAXLEN ~ trims whole radix tree nodes only, so a stream keeps at least 5000 entries and less
  // than one node (stream-node-max-entries, 100 by default) beyond that.
  const [, nodeEntries] = await fx.redis.config("GET", "stream-node-max-entries") as string[];
  for (const stream of [KEYS.changes("press-1"), KEYS.globalChanges]) {
    const length = await fx.redis.xlen(stream);
    assert.ok(length >= CHANGE_STREAM_MAXLEN, `${stream}: ${length}`);
    assert.ok(length <= CHANGE_STREAM_MAXLEN + Number(nodeEntries), `${stream}: ${length}`);
  }
  assert.equal(await fx.redis.zcard(KEYS.jobs("press-1")), 50);
});

Deno.test("a transaction Redis refuses writes nothing: neither the record nor a change entry", async () => {
  await using fx = await privateStore();
  // Two users that may write every key of a save but one: the stream, or the record. Redis
  // refuses that command while queueing it, so EXEC discards the whole transaction.
  const common = ["on", ">secret", "+@all", "~joborders:*", "~active-scopes"];
  await fx.redis.acl("SETUSER", "nostream", ...common, "~joborder:press-1:*");
  await fx.redis.acl("SETUSER", "norecord", ...common, "~joborder:changes:*");
  for (const user of ["nostream", "norecord"]) {
    const url = `redis://${user}@127.0.0.1:${fx.server.port}`;
    const redis = await connectRedis({ url, password: "secret", log: silentLogger });
    try {
      await assert.rejects(
        new RedisJobStore(redis).save("press-1", stored("job-1"), "Store"),
        (error: Error) => /EXECABORT/.test(error.message) && /NOPERM/.test(error.message),
      );
    } finally {
      await close(redis);
    }
    assert.equal(await fx.redis.exists(KEYS.job("press-1", "job-1")), 0, user);
    assert.equal(await fx.redis.exists(KEYS.jobs("press-1")), 0, user);
    assert.equal(await fx.redis.xlen(KEYS.changes("press-1")), 0, user);
    assert.equal(await fx.redis.xlen(KEYS.globalChanges), 0, user);
    assert.deepEqual(await fx.store.scopes(), [], user);
  }
});

Deno.test("after a kill -9 during saves, no change entry exists without its record", async () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  await using fx = await privateStore({ persistence: true }, log);
  const acknowledged = new Set<string>();
  let attempted = 0;
  // 16 writers save one job after another until Redis is gone: 16 saves are in flight when the
  // kill lands. The client rejects them after its reconnect attempts (maxRetriesPerRequest).
  const writer = async () => {
    for (;;) {
      const i = attempted++;
      try {
        await fx.store.save(`press-${i % 3}`, stored(`job-${i}`), "Store");
      } catch {
        return;
      }
      acknowledged.add(`press-${i % 3}/job-${i}`);
    }
  };
  const writers = Array.from({ length: 16 }, writer);
  while (acknowledged.size < 500) await new Promise((r) => setTimeout(r, 1));
  await fx.server.kill();
  await Promise.all(writers);
  assert.ok(attempted > acknowledged.size, "saves were in flight when the kill landed");

  // Same port, same append-only file: the client reconnects by itself.
  const ready = new Promise((resolve) => fx.redis.once("ready", resolve));
  await fx.server.start();
  await ready;
  assert.deepEqual(lines.map((line) => JSON.parse(line).msg), [
    "Redis connection lost; reconnecting",
    "Redis connection restored",
  ]);
  const records = new Set<string>();
  for (const scope of await fx.store.scopes()) {
    const ids = new Set((await fx.store.list(scope)).map((job) => job.order.JobOrderID));
    const changed = (await entries(fx.redis, KEYS.changes(scope))).map((e) => e.job_order_id);
    assert.deepEqual(new Set(changed), ids, `${scope}: change entries and records match`);
    assert.equal(changed.length, ids.size, `${scope}: one change entry per record`);
    assert.equal(await fx.redis.zcard(KEYS.jobs(scope)), ids.size, `${scope}: sorted set`);
    for (const id of ids) records.add(`${scope}/${id}`);
  }
  const global = (await entries(fx.redis, KEYS.globalChanges))
    .map((e) => `${e.scope}/${e.job_order_id}`);
  assert.deepEqual(new Set(global), records, "global entries and records match");
  assert.equal(global.length, records.size, "one global entry per record");
  for (const key of acknowledged) assert.ok(records.has(key), `acknowledged ${key} survives`);
});

Deno.test("connectRedis names the URL when Redis is not there", async () => {
  const server = await startRedis();
  await server.stop();
  await assert.rejects(
    connectRedis({ url: `redis://:pw@127.0.0.1:${server.port}`, log: silentLogger }),
    new RegExp(
      `^Error: Cannot connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}: .*ECONNREFUSED`,
    ),
  );
});

Deno.test("a reserved or empty scope is refused before anything is written", async () => {
  await using fx = await privateStore();
  for (const scope of ["_global", ""]) {
    await assert.rejects(fx.store.save(scope, stored("job-1"), "Store"), /Invalid job scope/);
  }
  assert.equal(await fx.redis.dbsize(), 0);
});
