import assert from "node:assert/strict";
import { isAbsolute, relative } from "node:path";
import { integrationTest } from "../../tests/_integration.ts";
import { startMosquitto, startNats, startPostgres, startRedis } from "./servers.ts";

async function canConnect(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** redis-cli's raw answer, trimmed (a nil reply prints as an empty line). */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), "--raw", ...args],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).trim();
}

Deno.test("private Mosquitto and NATS start, die on SIGKILL and restart on the same port", async () => {
  await using mosquitto = await startMosquitto();
  await using nats = await startNats();
  for (const server of [mosquitto, nats]) {
    assert.ok(await canConnect(server.port), `${server.name} listens`);
    await server.kill();
    assert.equal(server.pid, undefined);
    assert.ok(!(await canConnect(server.port)), `${server.name} is gone after kill`);
    await server.start();
    assert.ok(await canConnect(server.port), `${server.name} listens again`);
  }
});

Deno.test("private Redis answers PING, loses its data without persistence and keeps it with", async () => {
  await using volatile = await startRedis();
  await using durable = await startRedis({ persistence: true });
  assert.match(volatile.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  for (const server of [volatile, durable]) {
    assert.equal(await redisCli(server.port, "SET", "k", "v"), "OK");
    await server.kill();
    assert.equal(server.pid, undefined);
    assert.ok(!(await canConnect(server.port)), `${server.name} is gone after kill`);
    await server.start();
    assert.equal(await redisCli(server.port, "PING"), "PONG");
  }
  assert.equal(await redisCli(volatile.port, "GET", "k"), "", "no persistence: the key is gone");
  assert.equal(
    await redisCli(durable.port, "GET", "k"),
    "v",
    "appendfsync always survives kill -9",
  );
});

Deno.test("a private server started without a folder deletes its temporary folder when disposed", async () => {
  let dir: string;
  {
    await using broker = await startMosquitto();
    dir = broker.dir;
    assert.ok((await Deno.stat(dir)).isDirectory);
  }
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  const own = await Deno.makeTempDir({ prefix: "plantgate-test-own-" });
  {
    await using _broker = await startMosquitto({ dir: own });
  }
  assert.ok((await Deno.stat(own)).isDirectory, "a folder the caller gave is kept");
  await Deno.remove(own, { recursive: true });
});

integrationTest(
  "a server folder given as a relative path works (PostgreSQL resolves its log folder against its data folder)",
  async () => {
    const own = await Deno.makeTempDir({ prefix: "plantgate-test-relative-" });
    try {
      await using pg = await startPostgres({ dir: relative(Deno.cwd(), own) });
      assert.ok(isAbsolute(pg.dir), pg.dir);
      assert.ok(pg.pid !== undefined);
    } finally {
      await Deno.remove(own, { recursive: true });
    }
  },
);
