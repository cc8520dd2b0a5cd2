import { type Counter, type Histogram, RoleMetrics } from "../core/metrics.ts";

/** Forward latency buckets (seconds), receipt at the edge to JetStream ack. */
const LATENCY_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.02,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  5,
  30,
  300,
  3600,
];

/** The edge's metrics; every error is one log line plus one `errors_total{code,stage}`. */
export class EdgeMetrics extends RoleMetrics {
  constructor() {
    super("plantgate_edge");
  }

  readonly received: Counter = this.registry.counter(
    "plantgate_edge_received_total",
    "MQTT messages received from the plant broker.",
  );
  readonly decoded: Counter = this.registry.counter(
    "plantgate_edge_decoded_total",
    "Canonical events decoded from native messages.",
  );
  readonly buffered: Counter = this.registry.counter(
    "plantgate_edge_buffered_total",
    "Canonical events committed to the buffer.",
  );
  readonly duplicates: Counter = this.registry.counter(
    "plantgate_edge_duplicates_total",
    "Duplicates absorbed, by where (buffer: seen eventId; jetstream: Nats-Msg-Id dedupe).",
  );
  readonly forwarded: Counter = this.registry.counter(
    "plantgate_edge_forwarded_total",
    "Events acknowledged by JetStream.",
  );
  readonly deadLettered: Counter = this.registry.counter(
    "plantgate_edge_dead_lettered_total",
    "Messages kept as dead letters, by code and stage.",
  );
  readonly ignored: Counter = this.registry.counter(
    "plantgate_edge_ignored_total",
    "Native messages a plugin deliberately mapped to no event.",
  );
  readonly forwardLatency: Histogram = this.registry.histogram(
    "plantgate_edge_forward_latency_seconds",
    "Edge receipt to JetStream ack.",
    LATENCY_BUCKETS,
  );
  readonly commandsDelivered: Counter = this.registry.counter(
    "plantgate_edge_commands_delivered_total",
    "Commands from the centre published to the plant broker (PUBACK received), by system.",
  );
}
