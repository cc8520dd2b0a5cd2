/**
 * Runs an edge as a child process (`main.ts edge -c <file>`), for the demo, the fault tests and
 * the benchmarks: it can be stopped gracefully, killed with SIGKILL and started again.
 *
 * @module
 */
import { stringify } from "yaml";
import type { EdgeHealth } from "../edge/http.ts";
import { ChildSlot, freePort } from "./servers.ts";

/** The plant and servers an edge process serves. */
export interface EdgeProcessOptions {
  /** Folder for the config, buffer and log. */
  dir: string;
  plantId: string;
  timeZone: string;
  /** Source system = plugin name (sap, dynamics, infor). */
  erp: string;
  mqttUrl: string;
  natsUrl: string;
  /** Extra config sections merged over the defaults (e.g. `{ buffer: { maxBytes: "64MiB" } }`). */
  extra?: Record<string, unknown>;
  /** Flags for `deno run` before the script, e.g. {@linkcode LOW_MEMORY_DENO_FLAGS}. */
  denoFlags?: readonly string[];
}

/** A running (or stopped) edge child process. */
export interface EdgeProcess extends AsyncDisposable {
  readonly configPath: string;
  readonly httpPort: number;
  readonly logPath: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** GET /readyz (the body is returned for 200 and 503 alike). */
  health(): Promise<EdgeHealth>;
  /** GET /metrics as text. */
  metrics(): Promise<string>;
}

/**
 * The edge's low-memory profile (systemd/README.md): V8 favours memory over speed. Measured by
 * `deno task bench` next to the default profile.
 */
export const LOW_MEMORY_DENO_FLAGS: readonly string[] = ["--v8-flags=--optimize-for-size"];

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Writes the edge config for a plant into `dir` and returns its path and HTTP port. */
export async function writeEdgeConfig(
  options: EdgeProcessOptions,
): Promise<{ path: string; port: number }> {
  await Deno.mkdir(options.dir, { recursive: true });
  const port = freePort();
  const config = {
    plantId: options.plantId,
    timeZone: options.timeZone,
    mqtt: { url: options.mqttUrl, keepaliveSeconds: 5 },
    nats: { servers: [options.natsUrl] },
    sources: [{
      topic: `plant/${options.plantId}/erp/${options.erp}/lot/events`,
      plugin: options.erp,
    }],
    buffer: { path: "buffer.db" },
    forwarder: { backoff: { initialMs: 100, maxMs: 1000 } },
    http: { listen: `127.0.0.1:${port}` },
    log: { level: "info" },
    ...options.extra,
  };
  const path = `${options.dir}/edge.yaml`;
  await Deno.writeTextFile(path, stringify(config));
  return { path, port };
}

/** Sums every series of a counter in Prometheus text, optionally only those with a label. */
export function metricValue(text: string, name: string, label?: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(" ") || rest.startsWith("{"))) continue;
    if (label && !rest.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Writes the config and starts the edge process; resolves once its HTTP answers. */
export async function startEdgeProcess(options: EdgeProcessOptions): Promise<EdgeProcess> {
  const { path, port } = await writeEdgeConfig(options);
  const logPath = `${options.dir}/edge.log`;
  const slot = new ChildSlot();
  const base = `http://127.0.0.1:${port}`;
  const halt = (signal: Deno.Signal) => slot.halt(signal);
  const handle: EdgeProcess = {
    configPath: path,
    httpPort: port,
    logPath,
    get pid() {
      return slot.pid;
    },
    async start() {
      if (slot.pid !== undefined) return;
      // sh only redirects stderr to the log and then becomes the edge (exec): same PID.
      slot.spawn(
        new Deno.Command("sh", {
          args: [
            "-c",
            'exec "$0" "$@" 2>>"$PLANTGATE_EDGE_LOG"',
            Deno.execPath(),
            "run",
            "--allow-all",
            ...(options.denoFlags ?? []),
            MAIN,
            "edge",
            "-c",
            path,
          ],
          env: { PLANTGATE_EDGE_LOG: logPath },
          stdout: "null",
          stderr: "null",
        }),
      );
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const response = await fetch(`${base}/healthz`);
          await response.body?.cancel();
          if (response.ok) return;
        } catch { /* not up yet */ }
        if (Date.now() > deadline) {
          await halt("SIGKILL");
          throw new Error(`Edge ${options.plantId} did not come up within 30 s; see ${logPath}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => halt("SIGTERM"),
    kill: () => halt("SIGKILL"),
    async health() {
      const response = await fetch(`${base}/readyz`);
      return await response.json() as EdgeHealth;
    },
    async metrics() {
      return await (await fetch(`${base}/metrics`)).text();
    },
    [Symbol.asyncDispose]: () => halt("SIGTERM"),
  };
  await handle.start();
  return handle;
}
