/**
 * `main.ts reconcile run|report -c central.yaml`: asks ERPs for their lots now, and shows the
 * latest reconciliation of each plant/system with its drift. `run` only writes the request (the
 * command goes out through a running central role's outbox relay), so it needs the database and
 * nothing else.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadCentralConfig } from "../core/central_config.ts";
import { connectPostgres } from "../io/postgres.ts";
import { latestRuns, requestReconciliation, type RunView } from "./reconciliation.ts";

const USAGE = `Usage: main.ts reconcile <run|report> -c <central.yaml> [options]

  run      ask ERPs for their current lots now (REPORT_LOTS through each plant's edge; a running
           central role publishes the command and collects the stock report)
  report   the latest run of each plant/system: state, lines received, drift

Options:
  -c, --config <file>   central config (default /etc/plantgate/central.yaml)
  --plant <id>          only this plant
  --system <name>       only this source system
  --lot <id>            run: only this lot (default all)
  --material <id>       run: only this material (default all)
  --json                report: print JSON

Drift kinds: unknown_to_centre (the ERP holds a lot the centre has no event of),
missing_in_erp (the centre expects stock the ERP does not list), material_differs,
quantity_differs (only where the centre's state is the lot's whole quantity).
Exit codes: 0 ok (report: no drift), 1 runtime failure or drift found, 2 bad usage.`;

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));

/** `main.ts reconcile`. */
export async function runReconcileCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        config: { type: "string", short: "c", default: "/etc/plantgate/central.yaml" },
        plant: { type: "string" },
        system: { type: "string" },
        lot: { type: "string" },
        material: { type: "string" },
        json: { type: "boolean" },
      },
    });
  } catch (error) {
    Deno.stderr.writeSync(encoder.encode(`${(error as Error).message}\n\n${USAGE}\n`));
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) return (out(USAGE), 0);
  const action = positionals[0];
  if (positionals.length !== 1 || (action !== "run" && action !== "report")) {
    Deno.stderr.writeSync(encoder.encode(`give run or report\n\n${USAGE}\n`));
    return 2;
  }
  const config = await loadCentralConfig(values.config);
  const sql = connectPostgres({ ...config.postgres, max: 1 });
  try {
    if (action === "run") {
      const runs = await requestReconciliation(sql, {
        plantId: values.plant,
        system: values.system,
        lotId: values.lot,
        material: values.material,
      });
      out(
        runs.length === 0
          ? "No plant/system matches (the centre reconciles systems it has lots of)"
          : `Requested ${runs.length} run(s): ${runs.join(", ")}\n` +
            "The central role publishes the requests; see `main.ts reconcile report`.",
      );
      return runs.length === 0 ? 1 : 0;
    }
    const runs = await latestRuns(sql, { plantId: values.plant, system: values.system });
    if (values.json) out(JSON.stringify(runs, null, 2));
    else printReport(runs);
    return runs.some((r) => r.drift.length > 0) ? 1 : 0;
  } finally {
    await sql.end();
  }
}

function printReport(runs: RunView[]): void {
  if (runs.length === 0) out("No reconciliation has run yet (main.ts reconcile run).");
  for (const run of runs) {
    const lines = `${run.receivedLines}/${run.expectedLines ?? "?"} lines`;
    out(
      `${run.plantId}/${run.system}  ${run.state}  ${lines}  requested ${run.requestedAt}` +
        `  drift ${run.drift.length}${run.reason ? `  (${run.reason})` : ""}  run ${run.runId}`,
    );
    for (const d of run.drift) {
      const erp = d.erp ? `${d.erp.material} ${d.erp.quantity}` : "-";
      const centre = d.centre ? `${d.centre.material ?? "?"} ${d.centre.quantity ?? "?"}` : "-";
      out(`  ${d.kind.padEnd(17)}  ${d.lotId}  erp: ${erp}  centre: ${centre} ${d.uom ?? ""}`);
    }
  }
}
