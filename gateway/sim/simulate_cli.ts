import { parseArgs } from "node:util";
import { BUILTIN_PLUGINS } from "../../plugins/mod.ts";
import { isTimeZone } from "../core/time.ts";
import { planTraffic, publishTraffic, type SentMessage } from "./erp_simulator.ts";

const USAGE = `Usage: main.ts simulate --erp <sap|dynamics|infor> [options]

Publishes realistic native ERP traffic for one plant to its broker (MQTT v5, QoS 1) on
plant/<plant>/erp/<system>/lot/events: lot receipts, production, splits, merges, stagings,
consumptions and reversals, with occasional unchanged re-sends and malformed messages.
Prints progress and what it sent.

Options:
  --erp <name>          plugin whose native format to speak (required)
  --plant <id>          plant id (default A)
  --system <name>       topic <system> segment (default: the ERP name)
  --url <mqtt://h:p>    plant broker (default mqtt://127.0.0.1:1883)
  --count <n>           messages to send (default 1000)
  --rate <n>            messages per second, 0 = as fast as acknowledged (default 100)
  --seed <n>            scenario seed; the same seed sends the same traffic (default 1)
  --time-zone <iana>    plant time zone for ERP-local times (default UTC)
  --resend <ratio>      share of unchanged re-sends (default 0.02)
  --malformed <ratio>   share of malformed messages (default 0.01)
  --first-number <n>    first lot/document number (default 1)`;

function number(value: unknown, name: string, min: number, max = Infinity): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new RangeError(`--${name} must be a number between ${min} and ${max}, got "${value}"`);
  }
  return n;
}

/** Counts of what was sent, by kind, operation and defect. */
export function summarize(messages: SentMessage[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of messages) {
    const key = m.kind === "document"
      ? `document:${m.op!.kind}`
      : m.kind === "malformed"
      ? `malformed:${m.defect}`
      : "resend";
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort());
}

/** `main.ts simulate`. */
export async function runSimulateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      erp: { type: "string" },
      plant: { type: "string", default: "A" },
      system: { type: "string" },
      url: { type: "string", default: "mqtt://127.0.0.1:1883" },
      count: { type: "string", default: "1000" },
      rate: { type: "string", default: "100" },
      seed: { type: "string", default: "1" },
      "time-zone": { type: "string", default: "UTC" },
      resend: { type: "string", default: "0.02" },
      malformed: { type: "string", default: "0.01" },
      "first-number": { type: "string", default: "1" },
    },
  });
  const write = (text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
  const fail = (text: string) => {
    Deno.stderr.writeSync(new TextEncoder().encode(`${text}\n\n${USAGE}\n`));
    return 2;
  };
  if (values.help) {
    write(USAGE);
    return 0;
  }
  const plugin = BUILTIN_PLUGINS.get(values.erp ?? "");
  if (!plugin) {
    return fail(
      `--erp must be one of ${[...BUILTIN_PLUGINS.keys()].join(", ")}, got "${values.erp ?? ""}"`,
    );
  }
  if (!isTimeZone(values["time-zone"])) {
    return fail(`--time-zone "${values["time-zone"]}" is not an IANA time zone`);
  }
  let count, rate, seed, resendRatio, malformedRatio, firstNumber;
  try {
    count = number(values.count, "count", 1);
    rate = number(values.rate, "rate", 0);
    seed = number(values.seed, "seed", 0);
    resendRatio = number(values.resend, "resend", 0, 1);
    malformedRatio = number(values.malformed, "malformed", 0, 1);
    firstNumber = number(values["first-number"], "first-number", 1);
  } catch (error) {
    return fail((error as Error).message);
  }
  const context = {
    plantId: values.plant,
    system: values.system ?? plugin.name,
    timeZone: values["time-zone"],
  };
  const messages = planTraffic({
    plugin,
    context,
    count,
    seed,
    resendRatio,
    malformedRatio,
    firstNumber,
  });
  const started = performance.now();
  write(`Sending ${count} ${plugin.name} message(s) to ${values.url} on ${messages[0].topic}`);
  await publishTraffic(messages, {
    url: values.url,
    rate,
    onProgress: (sent) => {
      const seconds = (performance.now() - started) / 1000;
      Deno.stderr.writeSync(
        new TextEncoder().encode(
          `\r  sent ${sent}/${count} (${Math.round(sent / Math.max(seconds, 0.001))}/s)   `,
        ),
      );
    },
  });
  Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  write(`Sent ${count} message(s) in ${((performance.now() - started) / 1000).toFixed(1)} s:`);
  for (const [kind, n] of Object.entries(summarize(messages))) write(`  ${kind.padEnd(36)} ${n}`);
  return 0;
}
