import assert from "node:assert/strict";
import { freePort } from "../gateway/sim/servers.ts";

const UNIT = new URL("../systemd/plantgate-edge.service", import.meta.url);
const BROKER = new URL("../systemd/mosquitto-plant.conf", import.meta.url);

async function which(command: string): Promise<string | undefined> {
  const { code, stdout } = await new Deno.Command("sh", {
    args: ["-c", `command -v ${command}`],
    stdout: "piped",
  })
    .output();
  return code === 0 ? new TextDecoder().decode(stdout).trim() : undefined;
}

const analyze = await which("systemd-analyze");

Deno.test({
  name: "the edge unit passes systemd-analyze verify and keeps its hardening",
  ignore: !analyze,
  async fn() {
    const unit = await Deno.readTextFile(UNIT);
    for (
      const line of [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "Restart=always",
        "StateDirectory=plantgate",
        "ConfigurationDirectory=plantgate",
        "CapabilityBoundingSet=",
      ]
    ) {
      assert.ok(unit.includes(line), `unit has ${line}`);
    }
    const execStart = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)?.[1] ?? "";
    assert.match(
      execStart,
      /--allow-write=\/var\/lib\/plantgate\s/,
      "writes only its state folder",
    );
    assert.doesNotMatch(execStart, /--allow-all|--allow-run|--allow-ffi|\s-A\s/, "least privilege");
    // Verify a copy whose ExecStart points at the deno of this machine (the unit's /usr/bin/deno
    // may not exist here).
    const dir = await Deno.makeTempDir({ prefix: "plantgate-unit-" });
    const deno = (await which("deno")) ?? Deno.execPath();
    await Deno.writeTextFile(`${dir}/plantgate-edge.service`, unit.replace("/usr/bin/deno", deno));
    const { code, stderr } = await new Deno.Command(analyze!, {
      args: ["verify", `${dir}/plantgate-edge.service`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const problems = new TextDecoder().decode(stderr).split("\n").filter((line) =>
      line.trim() !== "" &&
      // This machine need not have the service user, mosquitto.service or a running systemd.
      !/User=|Group=|mosquitto\.service|Failed to .*(connect|bus)|System has not been booted|Cannot find unit|not running/i
        .test(line)
    );
    assert.deepEqual(problems, [], `systemd-analyze verify (exit ${code})`);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("mosquitto accepts the shipped plant broker config and listens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plantgate-broker-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/passwd`, "");
  const conf = (await Deno.readTextFile(BROKER))
    .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`)
    .replace(/^password_file .*$/m, `password_file ${dir}/passwd`);
  assert.match(conf, /^max_queued_messages 1000000$/m, "the silent-drop limit is raised");
  await Deno.writeTextFile(
    `${dir}/mosquitto.conf`,
    `${conf}\nuser ${Deno.uid() === 0 ? "root" : Deno.env.get("USER")}\n`,
  );
  const child = new Deno.Command("mosquitto", {
    args: ["-c", `${dir}/mosquitto.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let listening = false;
    for (let i = 0; i < 100 && !listening; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        listening = true;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(listening, "mosquitto listens with the shipped settings");
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});
