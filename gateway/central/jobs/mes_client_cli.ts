/**
 * `main.ts mes-client -c central.yaml --scope S ...`: runs the reference MES resync client
 * against the central broker of the config's `jobs` section until SIGINT/SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadCentralConfig } from "../../core/central_config.ts";
import { createLogger } from "../../core/logger.ts";
import { MesClient } from "./mes_client.ts";

const USAGE = `Usage: main.ts mes-client -c <central.yaml> --scope <scope> [--scope ...] [options]

The reference MES client of the job publishing (seed 003): follows each scope's retained
state-index, reports seq gaps, records the retained result of every Ended/Aborted job (one JSON
line each, fsync'd) and then calls Clear for it. Runs until Ctrl-C.

Options:
  -c, --config <file>     central config; its jobs.mqtt broker and jobs.prefix are used
                          (default /etc/plantgate/central.yaml)
  --scope <scope>         a scope (machine) to follow; repeat for more (required)
  --results-file <file>   where results are recorded (default mes-results.jsonl)
  --state-file <file>     last seq per scope and results not yet cleared (default mes-state.json)
  --client-id <id>        MQTT client id (default plantgate-mes-client)`;

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));

/** `main.ts mes-client`. */
export async function runMesClientCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        config: { type: "string", short: "c", default: "/etc/plantgate/central.yaml" },
        scope: { type: "string", multiple: true },
        "results-file": { type: "string", default: "mes-results.jsonl" },
        "state-file": { type: "string", default: "mes-state.json" },
        "client-id": { type: "string", default: "plantgate-mes-client" },
      },
    }));
  } catch (error) {
    Deno.stderr.writeSync(encoder.encode(`${(error as Error).message}\n\n${USAGE}\n`));
    return 2;
  }
  if (values.help) return (out(USAGE), 0);
  if (!values.scope?.length) {
    Deno.stderr.writeSync(encoder.encode(`--scope is required\n\n${USAGE}\n`));
    return 2;
  }
  const config = await loadCentralConfig(values.config);
  const client = new MesClient({
    url: config.jobs.mqtt.url,
    username: config.jobs.mqtt.username,
    password: config.jobs.mqtt.password,
    clientId: values["client-id"],
    prefix: config.jobs.prefix,
    scopes: values.scope,
    stateFile: values["state-file"],
    resultsFile: values["results-file"],
    log: createLogger({ level: config.log.level }),
  });
  await client.start();
  out(`Following ${values.scope.join(", ")} on ${config.jobs.mqtt.url}; Ctrl-C stops`);
  const { promise, resolve } = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, resolve);
  await promise;
  await client.stop();
  out(`Stopped: ${JSON.stringify(client.counts)}`);
  return 0;
}
