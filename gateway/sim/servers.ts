/**
 * Private Mosquitto, NATS (JetStream), PostgreSQL and Redis servers on ephemeral loopback ports,
 * for the demo, the tests and the benchmarks. Each server keeps its data under its own folder, so it can be
 * stopped, killed and started again on the same port with its state (fault injection).
 *
 * @module
 */
import { resolve } from "node:path";
import { connectPostgres, type Sql } from "../io/postgres.ts";

/** A private server process. `await using` stops it and removes nothing but the process. */
export interface PrivateServer extends AsyncDisposable {
  readonly name: string;
  readonly port: number;
  /** `<scheme>://127.0.0.1:<port>`: `mqtt`, `nats`, `postgres` or `redis`. */
  readonly url: string;
  /** Folder holding its config, data and log. */
  readonly dir: string;
  /** PID of the running process, or undefined while stopped. */
  readonly pid: number | undefined;
  /** Starts it again (same port, same data) after stop() or kill(). */
  start(): Promise<void>;
  /**
   * Graceful stop (SIGTERM; PostgreSQL: SIGINT, its fast shutdown); Mosquitto saves its
   * persistence file, Redis its append-only file when persistence is on.
   */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL). */
  kill(): Promise<void>;
}

/** Options of {@linkcode startMosquitto}. */
export interface MosquittoOptions {
  /** Folder for config, persistence and log. Default: a new temporary folder. */
  dir?: string;
  /** Port. Default: a free ephemeral port. */
  port?: number;
  /** Extra mosquitto.conf lines (e.g. `max_queued_messages 1000`). */
  extraConfig?: string[];
}

/** Options of {@linkcode startNats}. */
export interface NatsOptions {
  /** Folder for the JetStream store and log. Default: a new temporary folder. */
  dir?: string;
  /** Port. Default: a free ephemeral port. */
  port?: number;
}

/** A free TCP port on 127.0.0.1 (bound and released, so a tiny race is possible). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitForPort(port: number, child: Deno.ChildProcess, name: string, log: string) {
  const deadline = Date.now() + 10_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  let tail = "";
  try {
    tail = (await Deno.readTextFile(log)).split("\n").slice(-10).join("\n");
  } catch { /* no log yet */ }
  throw new Error(`Cannot start ${name} on 127.0.0.1:${port}: not listening after 10 s\n${tail}`);
}

/** One child process at a time, started, stopped or killed as often as a test needs. */
export class ChildSlot {
  #child: Deno.ChildProcess | undefined;

  /** PID of the running child, or undefined. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts `command` (the slot must be empty). */
  spawn(command: Deno.Command): Deno.ChildProcess {
    this.#child = command.spawn();
    return this.#child;
  }

  /** Sends `signal` and waits for the exit; nothing if no child runs. */
  async halt(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
  }
}

function managed(
  name: string,
  scheme: string,
  port: number,
  dir: string,
  command: () => Deno.Command,
  log: string,
  ready?: () => Promise<void>,
  stopSignal: Deno.Signal = "SIGTERM",
): PrivateServer {
  const slot = new ChildSlot();
  const halt = (signal: Deno.Signal) => slot.halt(signal);
  const server: PrivateServer = {
    name,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    dir,
    get pid() {
      return slot.pid;
    },
    async start() {
      if (slot.pid !== undefined) return;
      const child = slot.spawn(command());
      try {
        await waitForPort(port, child, name, log);
        await ready?.();
      } catch (error) {
        await halt("SIGKILL");
        throw error;
      }
    },
    stop: () => halt(stopSignal),
    kill: () => halt("SIGKILL"),
    [Symbol.asyncDispose]: () => halt(stopSignal),
  };
  return server;
}

/**
 * The server's folder: the one given, made absolute (PostgreSQL resolves a relative log
 * directory against its data directory, not the working directory), or a new temporary one.
 */
async function serverDir(given: string | undefined, prefix: string): Promise<string> {
  return given === undefined ? await Deno.makeTempDir({ prefix }) : resolve(given);
}

/**
 * Disposing the server also deletes its folder when it is a temporary one made by the start
 * function (a database folder of a benchmark holds gigabytes; /tmp would fill up run by run).
 * A folder the caller passed is left alone.
 */
function removingDir(server: PrivateServer, temporary: boolean): PrivateServer {
  if (!temporary) return server;
  const dispose = server[Symbol.asyncDispose];
  server[Symbol.asyncDispose] = async () => {
    await dispose();
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  };
  return server;
}

function currentUser(): string {
  return Deno.uid() === 0 ? "root" : Deno.env.get("USER") ?? "mosquitto";
}

/** Starts a private Mosquitto 2 (MQTT v5) with persistence on. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<PrivateServer> {
  const dir = await serverDir(options.dir, "plantgate-mosquitto-");
  await Deno.mkdir(dir, { recursive: true });
  const port = options.port ?? freePort();
  const conf = `${dir}/mosquitto.conf`;
  const log = `${dir}/mosquitto.log`;
  await Deno.writeTextFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      // Started as root, Mosquitto would switch to the "mosquitto" user, which cannot write this
      // folder: no persistence, no log. Stay the user we are.
      `user ${currentUser()}`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${dir}/`,
      // Saved at every graceful stop; periodic saves of big queues would stall the broker.
      "autosave_interval 300",
      `log_dest file ${log}`,
      "max_queued_messages 1000000",
      ...(options.extraConfig ?? []),
      "",
    ].join("\n"),
  );
  const server = managed(
    "mosquitto",
    "mqtt",
    port,
    dir,
    () => new Deno.Command("mosquitto", { args: ["-c", conf], stdout: "null", stderr: "null" }),
    log,
  );
  await server.start();
  return removingDir(server, options.dir === undefined);
}

/** Starts a private nats-server with JetStream. */
export async function startNats(options: NatsOptions = {}): Promise<PrivateServer> {
  const dir = await serverDir(options.dir, "plantgate-nats-");
  await Deno.mkdir(dir, { recursive: true });
  const port = options.port ?? freePort();
  const log = `${dir}/nats.log`;
  const server = managed(
    "nats-server",
    "nats",
    port,
    dir,
    () =>
      new Deno.Command("nats-server", {
        args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", `${dir}/jetstream`, "-l", log],
        stdout: "null",
        stderr: "null",
      }),
    log,
  );
  await server.start();
  return removingDir(server, options.dir === undefined);
}

/** Options of {@linkcode startPostgres}. */
export interface PostgresOptions {
  /** Folder for the cluster, socket and log. Default: a new temporary folder. */
  dir?: string;
  /** Port. Default: a free ephemeral port. */
  port?: number;
}

/** The newest `/usr/lib/postgresql/<version>/bin` (Debian's layout), or "" to use the PATH. */
async function postgresBinDir(): Promise<string> {
  const versions: number[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
    }
  } catch { /* not Debian's layout */ }
  versions.sort((a, b) => b - a);
  return versions.length > 0 ? `/usr/lib/postgresql/${versions[0]}/bin/` : "";
}

/**
 * PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user and
 * the server runs as it (setpriv execs in place, so the PID is the server's own).
 */
async function asPostgresUser(dir: string): Promise<string[]> {
  if (Deno.uid() !== 0) return [];
  const id = (flag: string) =>
    new Deno.Command("id", { args: [flag, "postgres"], stdout: "piped", stderr: "null" })
      .outputSync();
  const uid = id("-u"), gid = id("-g");
  if (!uid.success || !gid.success) {
    throw new Error(
      "Running as root, PostgreSQL needs the 'postgres' user (apt install postgresql)",
    );
  }
  const decoder = new TextDecoder();
  const [u, g] = [uid, gid].map((o) => Number(decoder.decode(o.stdout).trim()));
  await Deno.chown(dir, u, g);
  return ["setpriv", `--reuid=${u}`, `--regid=${g}`, "--init-groups", "--"];
}

/** Starts a private PostgreSQL (trust auth on 127.0.0.1, user and database `postgres`). */
export async function startPostgres(options: PostgresOptions = {}): Promise<PrivateServer> {
  const dir = await serverDir(options.dir, "plantgate-postgres-");
  await Deno.mkdir(dir, { recursive: true });
  const port = options.port ?? freePort();
  const bin = await postgresBinDir();
  const prefix = await asPostgresUser(dir);
  const data = `${dir}/data`;
  const run = (program: string, args: string[]) => {
    const [command, ...rest] = [...prefix, `${bin}${program}`, ...args];
    return new Deno.Command(command, { args: rest, stdout: "null", stderr: "piped" });
  };
  try {
    await Deno.stat(`${data}/PG_VERSION`);
  } catch {
    const init = await run("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=trust",
      "--encoding=UTF8",
      "--no-instructions",
    ]).output();
    if (!init.success) {
      throw new Error(`initdb failed: ${new TextDecoder().decode(init.stderr).trim()}`);
    }
  }
  const log = `${dir}/postgres.log`;
  const server = managed(
    "postgres",
    "postgres",
    port,
    dir,
    () =>
      run("postgres", [
        "-D",
        data,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `unix_socket_directories=${dir}`,
        "-c",
        "max_connections=60",
        "-c",
        "shared_buffers=32MB",
        "-c",
        "logging_collector=on",
        "-c",
        `log_directory=${dir}`,
        "-c",
        "log_filename=postgres.log",
      ]),
    log,
    // Listening is not ready: after a crash the server replays its WAL first.
    async () => {
      const deadline = Date.now() + 30_000;
      const probe = new Deno.Command(`${bin}pg_isready`, {
        args: ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"],
        stdout: "null",
        stderr: "null",
      });
      while (!(await probe.output()).success) {
        if (Date.now() > deadline) throw new Error(`postgres on port ${port} not ready after 30 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    // SIGINT is PostgreSQL's fast shutdown: it disconnects clients (SIGTERM waits for them).
    "SIGINT",
  );
  await server.start();
  return removingDir(server, options.dir === undefined);
}

/** Creates database `name` on a private PostgreSQL and returns a pool of `max` connections to it. */
export async function createDatabase(server: PrivateServer, name: string, max = 4): Promise<Sql> {
  const where = { host: "127.0.0.1", port: server.port, user: "postgres" };
  const admin = connectPostgres({ ...where, database: "postgres", max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return connectPostgres({ ...where, database: name, max });
}

/** Options of {@linkcode startRedis}. */
export interface RedisOptions {
  /** Folder for config, data and log. Default: a new temporary folder. */
  dir?: string;
  /** Port. Default: a free ephemeral port. */
  port?: number;
  /**
   * Append-only file with `appendfsync always`, so a kill -9 loses nothing that was
   * acknowledged. Default false: no persistence at all (no AOF, no RDB snapshots).
   */
  persistence?: boolean;
  /** Extra redis.conf lines (e.g. `maxmemory 10mb`). */
  extraConfig?: string[];
}

/** Redis answers PING with PONG once it has loaded its data (until then: -LOADING). */
async function redisPing(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(64);
      const n = await conn.read(buffer);
      return n !== null && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

/** Starts a private redis-server 7 (no password; persistence only when asked). */
export async function startRedis(options: RedisOptions = {}): Promise<PrivateServer> {
  const dir = await serverDir(options.dir, "plantgate-redis-");
  await Deno.mkdir(dir, { recursive: true });
  const port = options.port ?? freePort();
  const conf = `${dir}/redis.conf`;
  const log = `${dir}/redis.log`;
  const persistence = options.persistence
    ? ["appendonly yes", "appendfsync always"]
    : ["appendonly no"];
  await Deno.writeTextFile(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      // Not daemonized: the PID we hold is the server's own.
      "daemonize no",
      `dir ${dir}`,
      `logfile ${log}`,
      // No RDB snapshots in either mode (a save point would fork mid-test).
      `save ''`,
      ...persistence,
      ...(options.extraConfig ?? []),
      "",
    ].join("\n"),
  );
  const server = managed(
    "redis-server",
    "redis",
    port,
    dir,
    () => new Deno.Command("redis-server", { args: [conf], stdout: "null", stderr: "null" }),
    log,
    async () => {
      const deadline = Date.now() + 30_000;
      while (!(await redisPing(port))) {
        if (Date.now() > deadline) {
          throw new Error(`redis-server on port ${port} not ready after 30 s`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  );
  await server.start();
  return removingDir(server, options.dir === undefined);
}
