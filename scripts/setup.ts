/**
 * `deno task setup`: makes sure the servers the demo and the tests start privately are
 * installed. Installs missing Debian packages with apt when running as root; otherwise prints
 * the exact install line and exits 1. Never starts or stops a system service.
 *
 * @module
 */

/** A server binary the project needs and the Debian package that ships it. */
export interface Requirement {
  binary: string;
  pkg: string;
  /** Extra places to look (PostgreSQL keeps its server outside PATH). */
  globs?: string[];
}

/** What the demo and the tests start: brokers now, databases for the central role. */
export const REQUIREMENTS: readonly Requirement[] = [
  { binary: "mosquitto", pkg: "mosquitto" },
  { binary: "nats-server", pkg: "nats-server" },
  { binary: "redis-server", pkg: "redis-server" },
  { binary: "postgres", pkg: "postgresql", globs: ["/usr/lib/postgresql"] },
];

/** The packages to install for the binaries that were not found, in a stable order. */
export function missingPackages(found: ReadonlySet<string>, requirements = REQUIREMENTS): string[] {
  return requirements.filter((r) => !found.has(r.binary)).map((r) => r.pkg);
}

/** The install line to show a user who is not root. */
export function installHint(packages: string[]): string {
  return `sudo apt-get update && sudo apt-get install -y ${packages.join(" ")}`;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function findBinary(requirement: Requirement): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  if (dirs.some((dir) => exists(`${dir}/${requirement.binary}`))) return true;
  for (const root of requirement.globs ?? []) {
    try {
      for (const version of Deno.readDirSync(root)) {
        if (exists(`${root}/${version.name}/bin/${requirement.binary}`)) return true;
      }
    } catch { /* not installed there */ }
  }
  return false;
}

function found(): Set<string> {
  return new Set(REQUIREMENTS.filter(findBinary).map((r) => r.binary));
}

async function run(command: string, args: string[]): Promise<boolean> {
  const { code } = await new Deno.Command(command, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code === 0;
}

const say = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(`setup: ${line}\n`));

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    Deno.stdout.writeSync(new TextEncoder().encode(`Usage: deno task setup

Checks that ${REQUIREMENTS.map((r) => r.binary).join(", ")} are installed (the demo and the
tests start private instances of them on ephemeral ports). Missing Debian packages are installed
with apt-get when running as root; otherwise the exact install line is printed and the exit
code is 1. No system service is started or stopped.\n`));
    return 0;
  }
  let missing = missingPackages(found());
  if (missing.length === 0) {
    say(`ok: ${REQUIREMENTS.map((r) => r.binary).join(", ")} are installed`);
    return 0;
  }
  const root = Deno.uid() === 0;
  if (!root || !findBinary({ binary: "apt-get", pkg: "apt" })) {
    say(`missing: ${missing.join(", ")}. Install them with:\n  ${installHint(missing)}`);
    return 1;
  }
  say(`installing ${missing.join(", ")} with apt-get...`);
  if (
    !await run("apt-get", ["update"]) ||
    !await run("apt-get", ["install", "-y", "--no-install-recommends", ...missing])
  ) {
    say(`apt-get failed. Install by hand:\n  ${installHint(missing)}`);
    return 1;
  }
  missing = missingPackages(found());
  if (missing.length > 0) {
    say(`still missing after apt-get: ${missing.join(", ")}`);
    return 1;
  }
  say("ok: installed");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
