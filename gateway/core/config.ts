import { resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument, visit } from "yaml";
import { errorMessage, PlantgateError } from "./errors.ts";

/** One problem in a config file, with where it is. */
export interface ConfigProblem {
  line: number;
  col: number;
  /** Dotted key path, e.g. `buffer.maxBytes` or `sources[0].topic`. */
  path: string;
  message: string;
}

/** A parsed YAML config whose nodes can be located for error messages. */
export class ConfigSource {
  readonly file: string;
  readonly #doc: Document;
  readonly #lines: LineCounter;

  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.#doc = doc;
    this.#lines = lines;
  }

  /** Line and column of the value at `path` (or of its key, or of the nearest parent). */
  locate(path: (string | number)[], atKey = false): { line: number; col: number } {
    for (let n = path.length; n >= 0; n--) {
      const parent = n > 0 ? this.#doc.getIn(path.slice(0, n - 1), true) : undefined;
      if (n > 0 && isMap(parent)) {
        const pair = parent.items.find((p) =>
          isPair(p) && isScalar(p.key) && p.key.value === path[n - 1]
        );
        const node = pair && (atKey || n < path.length ? pair.key : pair.value ?? pair.key);
        const range = (node as { range?: [number, number, number] } | undefined)?.range;
        if (range) return this.#lines.linePos(range[0]);
      }
      const node = this.#doc.getIn(path.slice(0, n), true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node?.range) return this.#lines.linePos(node.range[0]);
    }
    return { line: 1, col: 1 };
  }

  /** A problem located at `path`. */
  problem(path: (string | number)[], message: string, atKey = false): ConfigProblem {
    return { ...this.locate(path, atKey), path: formatPath(path), message };
  }
}

/** `["sources", 0, "topic"]` -> `sources[0].topic`. */
export function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`).join("") ||
    "(top)";
}

/** Throws one `config_invalid` error listing every problem as `file:line:col: path: message`. */
export function throwProblems(file: string, problems: ConfigProblem[]): never {
  const sorted = [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
  const lines = sorted.map((p) => `${file}:${p.line}:${p.col}: ${p.path}: ${p.message}`);
  throw new PlantgateError(
    "config_invalid",
    `Invalid configuration (${problems.length} problem${problems.length > 1 ? "s" : ""}):\n${
      lines.join("\n")
    }`,
  );
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length][b.length];
}

/** The closest of `candidates` to `word`, if it is close enough to be a typo. */
export function didYouMean(word: string, candidates: string[]): string | undefined {
  let best: string | undefined, bestDistance = Infinity;
  for (const c of candidates) {
    const distance = editDistance(word.toLowerCase(), c.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [c, distance];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Keys that hold secrets: refused in YAML, with the way to pass them instead. */
const SECRET_KEYS: Record<string, string> = {
  password: "passwordEnv (an environment variable) or passwordFile",
  token: "tokenEnv (an environment variable) or tokenFile",
  secret: "an environment variable or a file",
};

function describe(error: ErrorObject): string {
  const got = error.data === undefined ? "" : `, got ${JSON.stringify(error.data)?.slice(0, 60)}`;
  switch (error.keyword) {
    case "type":
      return `must be ${
        error.params.type === "integer" ? "an integer" : `a ${error.params.type}`
      }${got}`;
    case "enum":
      return `must be one of ${
        (error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")
      }${got}`;
    case "pattern": {
      const hint = (error.parentSchema as { description?: string } | undefined)?.description;
      return `must match ${error.params.pattern}${hint ? ` (${hint})` : ""}${got}`;
    }
    case "required":
      return `missing required key "${error.params.missingProperty}"`;
    case "anyOf":
      return `has the wrong form${got}`;
    default:
      return `${error.message}${got}`;
  }
}

/** Every repeated key of every mapping, located at its second occurrence. */
function duplicateKeys(doc: Document, lines: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          const pos = lines.linePos((pair.key as { range?: number[] })?.range?.[0] ?? 0);
          problems.push({
            ...pos,
            path: String(key),
            message: "duplicate key (each key may appear once)",
          });
        }
        seen.add(key);
      }
    },
  });
  return problems;
}

/** Splits an ajv instancePath into keys and indexes. */
function pathOf(instancePath: string): (string | number)[] {
  return instancePath.split("/").slice(1).map((s) => {
    const key = s.replaceAll("~1", "/").replaceAll("~0", "~");
    return /^\d+$/.test(key) ? Number(key) : key;
  });
}

/**
 * Reads a YAML file and validates it against a JSON Schema, applying the schema's defaults.
 * Every problem (YAML syntax, duplicate keys, unknown keys with a did-you-mean, wrong types,
 * secrets written inline) is reported at once with its file, line and column.
 */
export async function loadYamlConfig(
  file: string,
  schema: object,
): Promise<{ value: Record<string, unknown>; source: ConfigSource }> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new PlantgateError(
      "config_invalid",
      `Cannot read config "${file}": ${errorMessage(error)}`,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const source = new ConfigSource(file, doc, lines);
  if (doc.errors.length > 0) {
    const syntax = doc.errors.filter((e) => e.code !== "DUPLICATE_KEY").map((e) => {
      const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
      return { line: pos.line, col: pos.col, path: "(yaml)", message: e.message.split("\n")[0] };
    });
    throwProblems(file, [...syntax, ...duplicateKeys(doc, lines)]);
  }
  const value = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof value !== "object" || Array.isArray(value)) {
    throwProblems(file, [{
      line: 1,
      col: 1,
      path: "(top)",
      message: "must be a mapping of keys to values",
    }]);
  }
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false });
  const validate = ajv.compile(schema);
  if (validate(value)) return { value, source };
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    const path = pathOf(error.instancePath);
    // anyOf reports each branch too: keep the summary only.
    if (error.schemaPath.includes("/anyOf/")) continue;
    let problem: ConfigProblem;
    if (error.keyword === "additionalProperties") {
      const key = String(error.params.additionalProperty);
      const known = Object.keys((error.parentSchema as { properties?: object })?.properties ?? {});
      const secret = SECRET_KEYS[key];
      const guess = didYouMean(key, known);
      const message = secret
        ? `secrets are not allowed in the configuration file; use ${secret}`
        : `unknown key${
          guess
            ? ` (did you mean "${guess}"?)`
            : known.length
            ? ` (known keys: ${known.join(", ")})`
            : ""
        }`;
      problem = source.problem([...path, key], message, true);
    } else {
      problem = source.problem(path, describe(error));
    }
    const id = `${problem.path}|${problem.message}`;
    if (!seen.has(id)) problems.push(problem);
    seen.add(id);
  }
  throwProblems(file, problems);
}

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
};

/** `"512MiB"` -> 536870912; numbers pass through. (The schema has checked the form.) */
export function parseByteSize(value: number | string): number {
  if (typeof value === "number") return value;
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(value.trim())!;
  return Math.round(Number(m[1]) * (UNITS[(m[2] || "B").toUpperCase()] ?? 1));
}

/**
 * Resolves the secret `name` of a config section from `<name>Env` (an environment variable) or
 * `<name>File` (a file, relative to the config's folder), removing both keys from `raw`.
 * Problems (both given, variable unset, file unreadable) are added to `ctx.problems`.
 */
export function secret(
  raw: Record<string, unknown>,
  section: string,
  name: string,
  ctx: {
    source: ConfigSource;
    env: Record<string, string | undefined>;
    base: string;
    problems: ConfigProblem[];
  },
): string | undefined {
  const envKey = `${name}Env`, fileKey = `${name}File`;
  const envName = raw[envKey] as string | undefined;
  const file = raw[fileKey] as string | undefined;
  delete raw[envKey];
  delete raw[fileKey];
  if (envName !== undefined && file !== undefined) {
    ctx.problems.push(
      ctx.source.problem([section, fileKey], `give either ${envKey} or ${fileKey}, not both`),
    );
    return undefined;
  }
  if (envName !== undefined) {
    const value = ctx.env[envName];
    if (value === undefined) {
      ctx.problems.push(
        ctx.source.problem([section, envKey], `environment variable ${envName} is not set`),
      );
    }
    return value;
  }
  if (file !== undefined) {
    try {
      return Deno.readTextFileSync(resolve(ctx.base, file)).trim();
    } catch (error) {
      ctx.problems.push(
        ctx.source.problem([section, fileKey], `cannot read "${file}": ${errorMessage(error)}`),
      );
    }
  }
  return undefined;
}

/** The `nats` section of a role's config, secrets resolved. */
export interface NatsSettings {
  servers: string[];
  name: string;
  user?: string;
  /** Resolved from passwordEnv/passwordFile. */
  password?: string;
  /** Resolved from tokenEnv/tokenFile. */
  token?: string;
}
