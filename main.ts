/**
 * plantgate command line. Parses arguments and wires roles together; nothing else.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { loadCentralConfig } from "./gateway/core/central_config.ts";
import { loadEdgeConfig } from "./gateway/core/edge_config.ts";
import { errorMessage, PlantgateError } from "./gateway/core/errors.ts";
import { createLogger, type LogLevel } from "./gateway/core/logger.ts";
import { bindSources, Edge } from "./gateway/edge/edge.ts";
import { loadPlugins } from "./gateway/edge/plugin_loader.ts";

const USAGE = `plantgate — lot traceability edge gateway

Usage: main.ts <command> [options]

Commands:
  edge -c <file>          run the edge role (MQTT -> plugins -> buffer -> JetStream)
  central -c <file>       run the central role (JetStream -> lot orchestrator -> PostgreSQL)
  publisher -c <file>     run the MES job publisher (Redis change streams -> retained MQTT)
  mes-client -c <file>    the reference MES client: follow state indexes, record results, Clear
  trace <lot> -c <file>   genealogy of a lot, back or forward, as a table or CSV
  reconcile run|report    ask the ERPs for their lots; show drift between ERPs and the centre
  simulate [options]      publish simulated ERP traffic, or run a DCS (--dcs), on a plant broker
  buffer <subcommand>     inspect the edge buffer: stats, list, export, requeue, verify
  dlq <subcommand>        dead letters: list, show, replay, purge (edge buffer, or with
                          -c central.yaml the central DEAD_LETTERS stream)
  plugin test <name|path> run a plugin's golden fixtures
  plugin list             list the built-in plugins
  check-config <file>     validate an edge or central config without connecting anywhere
  demo                    three plants, private servers, an outage, a summary

Every command has --help. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
`;

const encoder = new TextEncoder();

function out(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}

function err(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}

/** Parses flags; an unknown flag is a usage error naming the flag. */
function flags<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  return parseArgs({
    args,
    options: { help: { type: "boolean", short: "h" }, ...options } as T & {
      help: { type: "boolean"; short: "h" };
    },
    allowPositionals: true,
    strict: true,
  });
}

async function edgeCommand(args: string[]): Promise<number> {
  const { values } = flags(args, { config: { type: "string", short: "c" } });
  if (values.help) {
    out(`Usage: main.ts edge -c <edge.yaml>

Runs the edge role until SIGINT/SIGTERM: subscribes to the plant broker (MQTT v5, QoS 1,
persistent session), decodes with the configured plugins, commits every message to the
fsync'd buffer before acknowledging it, and forwards events to JetStream.
Options:
  -c, --config <file>   edge config (default /etc/plantgate/edge.yaml)`);
    return 0;
  }
  const config = await loadEdgeConfig(String(values.config ?? "/etc/plantgate/edge.yaml"));
  const log = createLogger({ level: config.log.level as LogLevel });
  const edge = new Edge(config, log);
  await edge.start();
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await edge.stop();
  return 0;
}

async function centralCommand(args: string[]): Promise<number> {
  const { values } = flags(args, { config: { type: "string", short: "c" } });
  if (values.help) {
    out(`Usage: main.ts central -c <central.yaml>

Runs the central role until SIGINT/SIGTERM: creates or updates the JetStream streams, migrates
the PostgreSQL schema, applies lot events from the shared durable consumer (any number of
replicas), and serves /healthz, /readyz, /metrics, /lots/<id> and /lots/<id>/trace.
Options:
  -c, --config <file>   central config (default /etc/plantgate/central.yaml)`);
    return 0;
  }
  const config = await loadCentralConfig(
    String(values.config ?? "/etc/plantgate/central.yaml"),
  );
  const log = createLogger({ level: config.log.level as LogLevel });
  const { Central } = await import("./gateway/central/central.ts");
  const central = new Central(config, log);
  const stopped = new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  await Promise.race([central.start(), stopped]);
  await stopped;
  await central.stop();
  return 0;
}

async function publisherCommand(args: string[]): Promise<number> {
  const { values } = flags(args, { config: { type: "string", short: "c" } });
  if (values.help) {
    out(`Usage: main.ts publisher -c <central.yaml>

Runs the MES job publisher until SIGINT/SIGTERM: reads the job store's Redis change streams
(XREAD BLOCK) and keeps the retained MQTT v5 topics <prefix>/<scope>/state-index, order/<id>
and result/<id> current, with the configured Message Expiry Interval. Uses the config's jobs
section. Run one process at a time (a singleton; restarting it loses nothing: it resumes
from its cursors in Redis).
Options:
  -c, --config <file>   central config (default /etc/plantgate/central.yaml)`);
    return 0;
  }
  const config = await loadCentralConfig(
    String(values.config ?? "/etc/plantgate/central.yaml"),
  );
  const log = createLogger({ level: config.log.level as LogLevel }, { role: "publisher" });
  const { PublisherRole } = await import("./gateway/central/jobs/publish_role.ts");
  const role = new PublisherRole(config.jobs, log);
  const stopped = new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  await Promise.race([role.start(), stopped]);
  await stopped;
  await role.stop();
  return 0;
}

async function traceCommand(args: string[]): Promise<number> {
  const { values, positionals } = flags(args, {
    config: { type: "string", short: "c" },
    direction: { type: "string", default: "back" },
    depth: { type: "string", default: "1" },
    csv: { type: "boolean" },
  });
  const depth = Number(values.depth);
  const usage =
    `Usage: main.ts trace <lot> -c <central.yaml> [--direction back|forward] [--depth N] [--csv]

<lot> is a canonical lot id or plant:system:lot (e.g. A:sap:0000012345). back lists what went
into the lot, forward what it went into, up to N steps (default 1), across plants and ERPs.
--csv prints a spreadsheet (one row per genealogy edge).`;
  if (values.help) return (out(usage), 0);
  if (
    positionals.length !== 1 || !["back", "forward"].includes(String(values.direction)) ||
    !Number.isInteger(depth) || depth < 1
  ) {
    err(usage);
    return 2;
  }
  const config = await loadCentralConfig(
    String(values.config ?? "/etc/plantgate/central.yaml"),
  );
  const { connectPostgres } = await import("./gateway/io/postgres.ts");
  const trace = await import("./gateway/central/trace.ts");
  const sql = connectPostgres({ ...config.postgres, max: 1 });
  try {
    const canonical = await trace.resolveLot(sql, positionals[0]);
    if (!canonical) {
      err(`Unknown lot "${positionals[0]}" (give a canonical lot id or plant:system:lot)`);
      return 1;
    }
    const steps = await trace.traceLot(sql, canonical, {
      direction: values.direction as "back" | "forward",
      depth,
    });
    if (values.csv) {
      Deno.stdout.writeSync(encoder.encode(trace.traceCsv(steps)));
      return 0;
    }
    const lot = await trace.lotView(sql, canonical);
    out(
      `lot ${canonical} (${
        lot!.systemLots.map((l) => `${l.plantId}:${l.system}:${l.lotId}`).join(", ")
      }), ${values.direction}, depth ${depth}: ${steps.length} edge(s)`,
    );
    for (const s of steps) {
      out(
        `  ${s.depth}  ${s.from.plantId}:${s.from.system}:${s.from.lotId} -> ${s.to.plantId}:${s.to.system}:${s.to.lotId}  ${s.kind}${
          s.quantity === null ? "" : `  ${s.quantity} ${s.uom ?? ""}`
        }`,
      );
    }
    return 0;
  } finally {
    await sql.end();
  }
}

async function checkConfigCommand(args: string[]): Promise<number> {
  const { values, positionals } = flags(args, {});
  if (values.help || positionals.length !== 1) {
    (values.help ? out : err)(`Usage: main.ts check-config <edge.yaml|central.yaml>

Validates the file against its schema (an edge config has plantId; otherwise it is a central
config): unknown keys, types, defaults; resolves secrets from the environment; for an edge,
loads the plugins and validates their options. Connects to nothing.`);
    return values.help ? 0 : 2;
  }
  if (!(await isEdgeConfig(positionals[0]))) {
    const central = await loadCentralConfig(positionals[0]);
    out(
      `${
        positionals[0]
      }: ok (central: postgres ${central.postgres.host}:${central.postgres.port}/${central.postgres.database}, consumer ${central.orchestrator.consumer})`,
    );
    return 0;
  }
  const config = await loadEdgeConfig(positionals[0]);
  const sources = await bindSources(config, createLogger({ level: "error" }));
  out(
    `${positionals[0]}: ok (plant ${config.plantId}, ${sources.length} source(s): ${
      sources.map((s) => `${s.topic} -> ${s.bound.plugin.name} -> ${s.subject}`).join(", ")
    })`,
  );
  return 0;
}

async function pluginCommand(args: string[]): Promise<number> {
  const { values, positionals } = flags(args, { fixtures: { type: "string" } });
  const [sub, target] = positionals;
  if (values.help || !sub || (sub === "test" && !target) || !["test", "list"].includes(sub)) {
    (values.help ? out : err)(`Usage: main.ts plugin test <name|path> [--fixtures <dir>]
       main.ts plugin list

test: runs every golden fixture (plugins/<name>/fixtures/*.json, or <dir of path>/fixtures
      for a site plugin) and prints PASS/FAIL per fixture; exit 1 if any fails.`);
    return values.help ? 0 : 2;
  }
  const isPath = target?.includes("/") || target?.endsWith(".ts");
  const plugins = await loadPlugins(isPath ? [target] : []);
  if (sub === "list") {
    for (const p of plugins.values()) out(`${p.name}\t${p.version}\t${p.description}`);
    return 0;
  }
  const plugin = isPath ? [...plugins.values()].at(-1)! : plugins.get(target);
  if (!plugin) {
    err(
      `No plugin named "${target}" (built-ins: ${[...plugins.keys()].join(", ")}; or give a path)`,
    );
    return 2;
  }
  const dir = values.fixtures
    ? String(values.fixtures)
    : isPath
    ? target.replace(/[^/]*$/, "") + "fixtures"
    : new URL(`./plugins/${plugin.name}/fixtures`, import.meta.url).pathname;
  const { runFixtureDir } = await import("./gateway/core/fixtures.ts");
  const results = await runFixtureDir(plugin, dir);
  for (const r of results) {
    out(`${r.pass ? "PASS" : "FAIL"}  ${r.file.split("/").at(-1)}  ${r.description}`);
    if (r.problem) out(`      ${r.problem.replaceAll("\n", "\n      ")}`);
  }
  const failed = results.filter((r) => !r.pass).length;
  out(`${results.length - failed} passed, ${failed} failed`);
  return failed > 0 || results.length === 0 ? 1 : 0;
}

// Commands other than the edge are loaded when run: the edge process (a long-running service)
// then does not hold the simulators' MQTT client and the CLI code in memory.
/** An edge config names its plant; a central config does not. */
async function isEdgeConfig(file: string): Promise<boolean> {
  try {
    const { parse } = await import("yaml");
    const value = parse(await Deno.readTextFile(file));
    return typeof value !== "object" || value === null || "plantId" in value;
  } catch {
    return true; // the edge loader reports unreadable or broken files with their line
  }
}

/** `dlq` of the edge buffer, or of the central DEAD_LETTERS stream given a central config. */
async function dlqCommand(args: string[]): Promise<number> {
  const { configFlag } = await import("./gateway/edge/cli_io.ts");
  const config = configFlag(args);
  if (config !== undefined && !(await isEdgeConfig(config))) {
    return (await import("./gateway/central/dlq.ts")).runCentralDlqCommand(args);
  }
  return (await import("./gateway/edge/dlq_cli.ts")).runDlqCommand(args);
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  edge: edgeCommand,
  central: centralCommand,
  publisher: publisherCommand,
  "mes-client": async (args) =>
    (await import("./gateway/central/jobs/mes_client_cli.ts")).runMesClientCommand(args),
  trace: traceCommand,
  reconcile: async (args) =>
    (await import("./gateway/central/reconcile_cli.ts")).runReconcileCommand(args),
  simulate: async (args) =>
    (await import("./gateway/sim/simulate_cli.ts")).runSimulateCommand(args),
  buffer: async (args) => (await import("./gateway/edge/buffer_cli.ts")).runBufferCommand(args),
  dlq: dlqCommand,
  plugin: pluginCommand,
  "check-config": checkConfigCommand,
  demo: async (args) => (await import("./gateway/sim/demo.ts")).runDemo(args),
};

/** Runs the command line and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    (command ? out : err)(USAGE);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    err(`Unknown command "${command}".\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (error) {
    if (error instanceof PlantgateError) {
      err(error.message);
      return ["config_invalid", "plugin_load_failed"].includes(error.code) ? 2 : 1;
    }
    if (
      error instanceof TypeError && /ERR_PARSE_ARGS/.test(String((error as { code?: string }).code))
    ) {
      err(`${error.message}\nRun "main.ts ${command} --help" for usage.`);
      return 2;
    }
    err(`plantgate ${command} failed: ${errorMessage(error)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
