import type { ErrorCode, Stage } from "./errors.ts";
import type { Logger } from "./logger.ts";

/** Label values of one series. */
export type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
}

function key(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}

function escape(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function formatLabels(labels: Labels, extra: Labels = {}): string {
  const all = { ...labels, ...extra };
  const parts = Object.keys(all).map((k) => `${k}="${escape(all[k])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A monotonically increasing counter with optional labels. */
export class Counter {
  readonly #series = new Map<string, Series>();
  constructor(readonly name: string, readonly help: string) {}

  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    const s = this.#series.get(k);
    if (s) s.value += by;
    else this.#series.set(k, { labels, value: by });
  }

  /** Current value of one series (0 if never incremented). */
  get(labels: Labels = {}): number {
    return this.#series.get(key(labels))?.value ?? 0;
  }

  /** Sum over all series. */
  total(): number {
    let sum = 0;
    for (const s of this.#series.values()) sum += s.value;
    return sum;
  }

  /** Prometheus text exposition. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#series.size === 0) lines.push(`${this.name} 0`);
    for (const s of this.#series.values()) {
      lines.push(`${this.name}${formatLabels(s.labels)} ${s.value}`);
    }
    return lines.join("\n");
  }
}

/** A gauge whose value is read when scraped. */
export class Gauge {
  constructor(readonly name: string, readonly help: string, readonly read: () => number) {}

  /** Prometheus text exposition. */
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.read()}`,
    ]
      .join("\n");
  }
}

/** A gauge with one series per label set, all read when scraped. */
export class GaugeSet {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => [Labels, number][],
  ) {}

  /** Prometheus text exposition. */
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      ...this.read().map(([labels, value]) => `${this.name}${formatLabels(labels)} ${value}`),
    ].join("\n");
  }
}

/** A histogram with fixed buckets (upper bounds in the metric's unit). */
export class Histogram {
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.#counts = buckets.map(() => 0);
  }

  /** Records one observation. */
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) this.#counts[i]++;
  }

  /** Number of observations. */
  get count(): number {
    return this.#count;
  }

  /** Prometheus text exposition. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((le, i) =>
      lines.push(`${this.name}_bucket${formatLabels({}, { le: String(le) })} ${this.#counts[i]}`)
    );
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`${this.name}_sum ${this.#sum}`, `${this.name}_count ${this.#count}`);
    return lines.join("\n");
  }
}

/** A set of metrics rendered together on `/metrics`. */
export class Registry {
  readonly #metrics: { render(): string }[] = [];

  /** Registers and returns a counter. */
  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  /** Registers and returns a gauge read at scrape time. */
  gauge(name: string, help: string, read: () => number): Gauge {
    return this.#add(new Gauge(name, help, read));
  }

  /** Registers and returns a gauge with a series per label set, read at scrape time. */
  gaugeSet(name: string, help: string, read: () => [Labels, number][]): GaugeSet {
    return this.#add(new GaugeSet(name, help, read));
  }

  /** Registers and returns a histogram. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  #add<T extends { render(): string }>(metric: T): T {
    this.#metrics.push(metric);
    return metric;
  }

  /** The whole registry in Prometheus text format 0.0.4. */
  render(): string {
    return this.#metrics.map((m) => m.render()).join("\n") + "\n";
  }
}

/**
 * A role's metrics: its registry and its errors counter. Every error is one log line plus one
 * `<prefix>_errors_total{code,stage}`: the single way errors are reported.
 */
export class RoleMetrics {
  readonly registry: Registry = new Registry();
  readonly errors: Counter;

  constructor(prefix: string) {
    this.errors = this.registry.counter(
      `${prefix}_errors_total`,
      "Errors by stable code and stage.",
    );
  }

  /** Logs one line and counts one error. */
  error(
    log: Logger,
    code: ErrorCode,
    stage: Stage,
    message: string,
    fields: Record<string, unknown> = {},
  ): void {
    this.errors.inc({ code, stage });
    log.warn(message, { code, stage, ...fields });
  }
}
