import assert from "node:assert/strict";
import mqtt from "mqtt";
import { integrationTest } from "../../../tests/_integration.ts";
import { applyMethod } from "./mod.ts";
import { compareStreamIds, scopeOfStream } from "./publish_feed.ts";
import { ScopeIndex } from "./publish_index.ts";
import {
  apply,
  assertMatchesStore,
  caughtUp,
  lagging,
  NOW,
  PREFIX,
  retained,
  setup,
  type Sink,
  stateIndex,
  store,
  summary,
  until,
} from "./publish_testing.ts";
import { KEYS } from "./store.ts";

Deno.test("the state index lists jobs in store order with the spec's state numbers", () => {
  const index = new ScopeIndex("machine-42");
  const stored = applyMethod(undefined, "Store", { JobOrder: { JobOrderID: "J1" } }, NOW);
  const started = applyMethod(undefined, "StoreAndStart", { JobOrder: { JobOrderID: "J2" } }, NOW);
  assert.ok(stored.ok && started.ok);
  assert.equal(index.set(stored.job, false), true);
  assert.equal(index.set(started.job, false), true);
  assert.equal(index.set(stored.job, false), false, "an unchanged job changes nothing");
  const payload = JSON.parse(index.payload(103, new Date("2026-04-11T14:23:01.456Z")));
  assert.deepEqual(payload, {
    seq: 103,
    scope: "machine-42",
    published_at: "2026-04-11T14:23:01Z",
    jobs: [
      {
        job_order_id: "J1",
        state: [
          { state_text: { text: "NotAllowedToStart", locale: "en" }, state_number: 1 },
          { state_text: { text: "Ready", locale: "en" }, state_number: 2 },
        ],
        has_result: false,
      },
      {
        job_order_id: "J2",
        state: [
          { state_text: { text: "AllowedToStart", locale: "en" }, state_number: 2 },
          { state_text: { text: "Ready", locale: "en" }, state_number: 2 },
        ],
        has_result: false,
      },
    ],
  });
  const cancelled = applyMethod(stored.job, "Cancel", { JobOrderID: "J1" }, NOW);
  assert.ok(cancelled.ok);
  assert.equal(index.set(cancelled.job, false), true, "EndState leaves the index");
  assert.deepEqual(
    JSON.parse(index.payload(104, NOW)).jobs.map((j: { job_order_id: string }) => j.job_order_id),
    ["J2"],
  );
});

Deno.test("stream ids compare as numbers and stream keys name their scope", () => {
  assert.equal(compareStreamIds("99-0", "100-0"), -1);
  assert.equal(compareStreamIds("100-10", "100-9"), 1);
  assert.equal(compareStreamIds("0", "1-0"), -1);
  assert.equal(compareStreamIds("5-1", "5-1"), 0);
  assert.equal(scopeOfStream(KEYS.changes("press:1")), "press:1");
  assert.equal(scopeOfStream(KEYS.globalChanges), undefined);
});

integrationTest(
  "every change leads to its retained topics with the expiry set, and Clear deletes them",
  async () => {
    await using env = await setup();
    const { publisher } = await env.publisher();
    assert.deepEqual(publisher.scopes, []);
    const scope = "press-1";
    // The scope is new: the publisher discovers it from the global stream.
    await store(env, scope, "J1", "Store", { Priority: 1 });
    await store(env, scope, "J2", "StoreAndStart");
    await caughtUp(env.redis, [scope]);
    let topics = await retained(env.broker, scope);
    assert.deepEqual([...topics.keys()].sort(), ["order/J1", "order/J2", "state-index"]);
    for (const [topic, message] of topics) {
      assert.ok(
        message.expiry! > 590 && message.expiry! <= 600,
        `${topic} expiry ${message.expiry}`,
      );
    }
    assert.deepEqual(JSON.parse(topics.get("order/J1")!.payload), {
      JobOrderID: "J1",
      Priority: 1,
    });
    assert.deepEqual(summary(stateIndex(topics)), [["J1", [1, 2], false], ["J2", [2, 2], false]]);

    await store(env, scope, "J1", "Update", { Priority: 7 });
    for (const step of ["Start", "FromAllowedToStartToRunning", "Stop"]) {
      await apply(env, scope, "J1", step);
    }
    await apply(env, scope, "J2", "Cancel");
    await caughtUp(env.redis, [scope]);
    topics = await retained(env.broker, scope);
    assert.deepEqual(JSON.parse(topics.get("order/J1")!.payload), {
      JobOrderID: "J1",
      Priority: 7,
    });
    assert.deepEqual([...topics.keys()].sort(), ["order/J1", "state-index"], "J2 cancelled");
    assert.deepEqual(summary(stateIndex(topics)), [["J1", [5, 1], false]], "Ended, no response");

    await env.store.saveResponse(scope, { JobResponseID: "R1", JobOrderID: "J1", Torque: 12.5 });
    await caughtUp(env.redis, [scope]);
    topics = await retained(env.broker, scope);
    assert.deepEqual(JSON.parse(topics.get("result/J1")!.payload), {
      JobResponseID: "R1",
      JobOrderID: "J1",
      Torque: 12.5,
    });
    assert.ok(topics.get("result/J1")!.expiry! > 590);
    assert.deepEqual(summary(stateIndex(topics)), [["J1", [5, 1], true]]);

    await apply(env, scope, "J1", "Clear");
    await caughtUp(env.redis, [scope]);
    topics = await retained(env.broker, scope);
    assert.deepEqual([...topics.keys()], ["state-index"]);
    assert.deepEqual(stateIndex(topics).jobs, []);
    assert.equal(publisher.metrics.errors.total(), 0, publisher.metrics.registry.render());
  },
);

integrationTest("a response saved before the job ends is published when it ends", async () => {
  await using env = await setup();
  await env.publisher();
  const scope = "press-2";
  for (const id of ["J1", "J2"]) {
    await store(env, scope, id, "StoreAndStart");
    await apply(env, scope, id, "FromAllowedToStartToRunning");
    await env.store.saveResponse(scope, { JobResponseID: `R-${id}`, JobOrderID: id });
  }
  await caughtUp(env.redis, [scope]);
  let topics = await retained(env.broker, scope);
  assert.ok(!topics.has("result/J1") && !topics.has("result/J2"), "no partial results");
  assert.deepEqual(summary(stateIndex(topics)), [["J1", [3], false], ["J2", [3], false]]);

  await apply(env, scope, "J1", "Stop");
  await apply(env, scope, "J2", "Abort");
  await caughtUp(env.redis, [scope]);
  topics = await retained(env.broker, scope);
  assert.equal(JSON.parse(topics.get("result/J1")!.payload).JobResponseID, "R-J1");
  assert.equal(JSON.parse(topics.get("result/J2")!.payload).JobResponseID, "R-J2");
  assert.deepEqual(summary(stateIndex(topics)), [["J1", [5, 1], true], ["J2", [6], true]]);
});

integrationTest("seq grows by one per state-index publish, also across a restart", async () => {
  await using env = await setup();
  const scope = "press-3";
  const seqs: number[] = [];
  const mes = await mqtt.connectAsync(env.broker.url, { protocolVersion: 5 });
  mes.on("message", (_topic, payload) => seqs.push(JSON.parse(payload.toString()).seq));
  await mes.subscribeAsync(`${PREFIX}/${scope}/state-index`, { qos: 1 });
  try {
    const first = await env.publisher();
    await store(env, scope, "J1");
    await apply(env, scope, "J1", "Start");
    await apply(env, scope, "J1", "RevokeStart");
    await caughtUp(env.redis, [scope]);
    await first.stop();
    const before = seqs.length;
    // Changes while no publisher runs are published after the restart.
    await apply(env, scope, "J1", "Start");
    await store(env, scope, "J2");
    await env.publisher();
    await apply(env, scope, "J2", "Abort");
    await caughtUp(env.redis, [scope]);
    // The start-up publish, then at least the Abort's.
    await until(() => Promise.resolve(seqs.length >= before + 2 ? true : undefined), "publishes");
    assert.ok(before >= 1, `publishes before the restart: ${seqs}`);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), `seqs ${seqs}`);
    assert.equal(Number(await env.redis.get(KEYS.publishSeq(scope))), seqs.at(-1));
    const topics = await retained(env.broker, scope);
    assert.equal(stateIndex(topics).seq, seqs.at(-1));
    assert.deepEqual(summary(stateIndex(topics)), [["J1", [2, 2], false], ["J2", [6], false]]);
  } finally {
    await mes.endAsync();
  }
});

integrationTest(
  "changes trimmed from the stream unseen lead to a resync from the store",
  async () => {
    await using env = await setup();
    const scope = "press-4";
    const first = await env.publisher();
    await store(env, scope, "J1");
    await caughtUp(env.redis, [scope]);
    await first.stop();
    await store(env, scope, "J2");
    await apply(env, scope, "J1", "Cancel");
    await env.redis.xtrim(KEYS.changes(scope), "MAXLEN", 0);
    await env.publisher();
    const topics = await retained(env.broker, scope);
    assert.deepEqual([...topics.keys()].sort(), ["order/J2", "state-index"]);
    assert.deepEqual(summary(stateIndex(topics)), [["J2", [1, 2], false]]);
  },
);

integrationTest("a publish that fails is retried: no change skipped, no hole in seq", async () => {
  await using env = await setup();
  const scope = "press-6";
  let failNext = false;
  const flaky = (mqtt: Sink): Sink => ({
    publish(topic, payload, settings) {
      if (failNext && topic.endsWith("/state-index")) {
        failNext = false;
        return Promise.reject(new Error("injected: no PUBACK"));
      }
      return mqtt.publish(topic, payload, settings);
    },
  });
  const { publisher } = await env.publisher({}, flaky);
  await store(env, scope, "J1");
  await caughtUp(env.redis, [scope]);
  const seq = stateIndex(await retained(env.broker, scope)).seq;
  failNext = true;
  await apply(env, scope, "J1", "Start");
  await caughtUp(env.redis, [scope]);
  const index = stateIndex(await retained(env.broker, scope));
  assert.equal(index.seq, seq + 1, "the retry reused the seq of the failed publish");
  assert.deepEqual(summary(index), [["J1", [2, 2], false]]);
  assert.equal(publisher.metrics.errors.get({ code: "apply_failed", stage: "forward" }), 1);
});

integrationTest("retained job topics expire after the configured interval", async () => {
  await using env = await setup();
  const scope = "press-5";
  const running = await env.publisher({ retainedTtlSeconds: 2 });
  await store(env, scope, "J1");
  await caughtUp(env.redis, [scope]);
  const fresh = await retained(env.broker, scope);
  assert.deepEqual([...fresh.keys()].sort(), ["order/J1", "state-index"]);
  assert.ok(fresh.get("order/J1")!.expiry! <= 2);
  await running.stop();
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual([...(await retained(env.broker, scope)).keys()], []);
});

integrationTest(
  "main.ts publisher killed with kill -9 mid-stream resumes from its cursors and misses nothing",
  async () => {
    await using env = await setup();
    const dir = await Deno.makeTempDir({ prefix: "plantgate-publisher-" });
    const config = `${dir}/central.yaml`;
    await Deno.writeTextFile(
      config,
      [
        "jobs:",
        `  redis: { url: "${env.redisServer.url}" }`,
        `  mqtt: { url: "${env.broker.url}", clientId: test-publisher-process }`,
        "  retainedTtlSeconds: 600",
        "  streamReadCount: 10",
        "  streamBlockMs: 100",
        "log: { level: info }",
        "",
      ].join("\n"),
    );
    const runs: string[][] = [];
    const spawn = () => {
      const logs: string[] = [];
      runs.push(logs);
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../../main.ts", import.meta.url).pathname,
          "publisher",
          "-c",
          config,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (text) => void logs.push(text) }),
      );
      return { child, drained };
    };
    const scopes = ["line-a", "line-b"];
    let stopWriter = false;
    let written = 0;
    const writer = (async () => {
      // Jobs go through their whole life, with responses saved before or after they end.
      for (let n = 0; !stopWriter; n++) {
        const scope = scopes[n % 2], id = `J${n}`;
        await store(env, scope, id, n % 3 === 0 ? "StoreAndStart" : "Store");
        if (n % 3 !== 0) await apply(env, scope, id, "Start");
        await apply(env, scope, id, "FromAllowedToStartToRunning");
        if (n % 2 === 0) {
          await env.store.saveResponse(scope, { JobResponseID: `R${n}`, JobOrderID: id });
        }
        await apply(env, scope, id, n % 5 === 0 ? "Abort" : "Stop");
        if (n % 2 === 1) {
          await env.store.saveResponse(scope, { JobResponseID: `R${n}`, JobOrderID: id });
        }
        if (n % 4 === 0) await apply(env, scope, id, "Clear");
        written = n + 1;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    let run = spawn();
    try {
      await until(
        async () => await env.redis.hlen(KEYS.publisherCursors) >= 2 ? true : undefined,
        "the publisher to start",
      );
      await until(() => Promise.resolve(written >= 20 ? true : undefined), "20 jobs written");
      // Mid-stream: changes are waiting that this publisher has not handled yet.
      await until(async () => (await lagging(env.redis, scopes)) ? true : undefined, "a backlog");
      Deno.kill(run.child.pid, "SIGKILL");
      assert.equal((await run.child.status).signal, "SIGKILL");
      await run.drained;
      const atKill = written;
      await until(() => Promise.resolve(written >= atKill + 20 ? true : undefined), "20 more jobs");
      run = spawn();
      await until(() => Promise.resolve(written >= atKill + 40 ? true : undefined), "20 more jobs");
    } finally {
      stopWriter = true;
      await writer;
    }
    try {
      await caughtUp(env.redis, scopes);
      for (const scope of scopes) await assertMatchesStore(env, scope);
    } finally {
      run.child.kill("SIGTERM");
      const status = await run.child.status;
      await run.drained;
      assert.equal(status.code, 0, runs[1].join(""));
    }
    assert.match(runs[0].join(""), /"msg":"Job scope resynchronized from the store"/);
    assert.doesNotMatch(runs[1].join(""), /resynchronized/, "the restart resumed from its cursors");
    assert.match(runs[1].join(""), /"msg":"Job publisher stopped"/);
    await Deno.remove(dir, { recursive: true });
  },
);
