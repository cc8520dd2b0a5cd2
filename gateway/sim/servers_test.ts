import assert from "node:assert/strict";
import { startMosquitto, startNats } from "./servers.ts";

async function canConnect(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
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
