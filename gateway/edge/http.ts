import type { Logger } from "../core/logger.ts";

/** What the edge HTTP endpoints report. */
export interface EdgeHealth {
  /** Ready = local broker connected and buffer writable. */
  ready: boolean;
  mqttConnected: boolean;
  bufferWritable: boolean;
  /** Why the buffer is not writable (error code), if it is not. */
  bufferProblem?: string;
  centreReachable: boolean;
  lastForwardAckAt: string | null;
  backlog: number;
  oldestUnsentAgeSeconds: number | null;
  bufferUsedBytes: number;
  bufferMaxBytes: number;
  deadLettersUnforwarded: number;
}

/** Sources of the HTTP answers. */
export interface EdgeHttpHandlers {
  health(): EdgeHealth;
  metrics(): string;
}

/** Parses `host:port` (IPv6 in brackets). */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new TypeError(`Listen address must be host:port, got "${listen}"`);
  return { hostname: m[1], port: Number(m[2]) };
}

/**
 * Serves `/healthz` (process alive), `/readyz` (200 when ready, 503 otherwise, with the figures)
 * and `/metrics` (Prometheus text format). Returns the server; shut it down on stop.
 */
export function serveEdgeHttp(
  listen: string,
  handlers: EdgeHttpHandlers,
  log: Logger,
): Deno.HttpServer<Deno.NetAddr> {
  const { hostname, port } = parseListen(listen);
  return Deno.serve({
    hostname,
    port,
    onListen: (addr) => log.info("HTTP listening", { address: `${addr.hostname}:${addr.port}` }),
  }, (request) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    if (path === "/healthz") return Response.json({ status: "ok" });
    if (path === "/readyz") {
      const health = handlers.health();
      return Response.json(health, { status: health.ready ? 200 : 503 });
    }
    if (path === "/metrics") {
      return new Response(handlers.metrics(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return new Response("not found: try /healthz, /readyz or /metrics\n", { status: 404 });
  });
}
