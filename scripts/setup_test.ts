import assert from "node:assert/strict";
import { installHint, missingPackages } from "./setup.ts";

Deno.test("setup asks for exactly the Debian packages whose binaries are missing", () => {
  assert.deepEqual(
    missingPackages(new Set(["mosquitto", "nats-server", "redis-server", "postgres"])),
    [],
  );
  assert.deepEqual(missingPackages(new Set(["mosquitto", "redis-server"])), [
    "nats-server",
    "postgresql",
  ]);
  assert.equal(
    installHint(["nats-server", "postgresql"]),
    "sudo apt-get update && sudo apt-get install -y nats-server postgresql",
  );
});
