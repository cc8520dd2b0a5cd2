/**
 * The central database schema as numbered migrations, applied at start-up in order, each once,
 * under an advisory lock (any number of replicas may start at once).
 *
 * @module
 */
import type { Sql } from "../io/postgres.ts";

/** One schema change. Never edit a released migration: add the next one. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Genesis value of every plant's audit hash chain (32 zero bytes). */
export const GENESIS_HASH = "\\x" + "00".repeat(32);

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "audit, lots, genealogy, outbox",
    sql: `
-- Every canonical event, as received (native payload included), once: event_id is the
-- idempotency key. Append-only (triggers below); a hash chain per plant makes edits evident.
CREATE TABLE audit_events (
  plant_id      text        NOT NULL,
  plant_seq     bigint      NOT NULL,
  event_id      uuid        NOT NULL UNIQUE,
  event_type    text        NOT NULL,
  source_system text        NOT NULL,
  lot_id        text        NOT NULL,
  event_time    timestamptz NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  event         jsonb       NOT NULL,
  prev_hash     bytea       NOT NULL,
  hash          bytea       NOT NULL,
  PRIMARY KEY (plant_id, plant_seq)
);
CREATE INDEX audit_events_received_at ON audit_events USING brin (received_at);
CREATE INDEX audit_events_lot ON audit_events (plant_id, source_system, lot_id);

CREATE TABLE audit_chain_heads (
  plant_id text   PRIMARY KEY,
  seq      bigint NOT NULL,
  hash     bytea  NOT NULL
);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- One row per lot of one system at one plant: the mapping to its canonical lot, and its
-- last-writer-wins state on (version, source priority, event id). A placeholder is a lot known
-- only as another event's parent so far.
CREATE TABLE system_lots (
  plant_id         text    NOT NULL,
  source_system    text    NOT NULL,
  lot_id           text    NOT NULL,
  canonical_lot_id uuid    NOT NULL,
  placeholder      boolean NOT NULL,
  event_type       text,
  material         text,
  quantity         numeric,
  uom              text,
  event_time       timestamptz,
  state_version    bigint  NOT NULL DEFAULT -1,
  state_priority   integer NOT NULL DEFAULT -1,
  state_event_id   uuid,
  PRIMARY KEY (plant_id, source_system, lot_id)
);
CREATE INDEX system_lots_canonical ON system_lots (canonical_lot_id);

CREATE VIEW lot_mappings AS
  SELECT canonical_lot_id, plant_id, source_system, lot_id AS system_lot_id FROM system_lots;

-- The canonical lot: the winning state over all its system lots.
CREATE VIEW canonical_lots AS
  SELECT DISTINCT ON (canonical_lot_id)
    canonical_lot_id, plant_id, source_system, lot_id, event_type, material, quantity, uom,
    event_time, state_version, state_event_id,
    bool_and(placeholder) OVER (PARTITION BY canonical_lot_id) AS placeholder
  FROM system_lots
  ORDER BY canonical_lot_id, state_version DESC, state_priority DESC, state_event_id DESC NULLS LAST;

-- Lots that went into other lots. Edges only grow; when two events give the same edge, the
-- smaller event id's quantity wins, so the result does not depend on arrival order.
CREATE TABLE genealogy_edges (
  parent_plant  text NOT NULL,
  parent_system text NOT NULL,
  parent_lot    text NOT NULL,
  child_plant   text NOT NULL,
  child_system  text NOT NULL,
  child_lot     text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('split', 'merge', 'consume', 'transfer')),
  quantity      numeric,
  uom           text,
  event_id      uuid NOT NULL,
  PRIMARY KEY (parent_plant, parent_system, parent_lot, child_plant, child_system, child_lot, kind)
);
CREATE INDEX genealogy_edges_child ON genealogy_edges (child_plant, child_system, child_lot);

-- Lots consumed by (input) and produced for (output) a production order: consume edges run
-- from every input to every output of the same order, whichever arrived first.
CREATE TABLE order_lots (
  plant_id      text    NOT NULL,
  source_system text    NOT NULL,
  order_id      text    NOT NULL,
  lot_id        text    NOT NULL,
  role          text    NOT NULL CHECK (role IN ('input', 'output')),
  quantity      numeric,
  uom           text,
  event_id      uuid    NOT NULL,
  PRIMARY KEY (plant_id, source_system, order_id, lot_id, role)
);

-- Shipments between plants: a lot received with the correlation id of a lot shipped elsewhere
-- is the same canonical lot.
CREATE TABLE shipment_lots (
  correlation_id text NOT NULL,
  role           text NOT NULL CHECK (role IN ('shipped', 'received')),
  plant_id       text NOT NULL,
  source_system  text NOT NULL,
  lot_id         text NOT NULL,
  event_id       uuid NOT NULL,
  PRIMARY KEY (correlation_id, role, plant_id, source_system, lot_id)
);

-- Commands to publish, written in the same transaction as the event that caused them.
CREATE TABLE outbox (
  command_id   uuid        PRIMARY KEY,
  subject      text        NOT NULL,
  command      jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
`,
  },
  {
    version: 2,
    name: "transfer sagas, MES lot feed, reconciliation",
    sql: `
-- One saga per shipment to another plant: the receive command sent to the target ERP, and how
-- it ended (the receipt arrived; or it was rejected or timed out, and the source was told).
CREATE TABLE transfer_sagas (
  saga_id            uuid        PRIMARY KEY, -- = the receive command's id
  shipment_event_id  uuid        NOT NULL UNIQUE,
  correlation_id     text        NOT NULL, -- the shipment's reference, echoed by the receipt
  source_plant       text        NOT NULL,
  source_system      text        NOT NULL,
  lot_id             text        NOT NULL,
  material           text        NOT NULL,
  quantity           numeric     NOT NULL,
  uom                text        NOT NULL,
  target_plant       text        NOT NULL,
  target_system      text        NOT NULL,
  state              text        NOT NULL
    CHECK (state IN ('commanded', 'completed', 'compensated', 'compensation_failed')),
  outcome            text CHECK (outcome IN ('received', 'rejected', 'timed_out')),
  reason             text,
  deadline           timestamptz NOT NULL,
  answer_event_id    uuid,
  compensation_id    uuid UNIQUE, -- the compensating command's id
  late_answer_event_id uuid, -- a receipt that arrived after the saga compensated
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfer_sagas_due ON transfer_sagas (deadline) WHERE state = 'commanded';
CREATE INDEX transfer_sagas_receipt ON transfer_sagas (target_plant, correlation_id);
CREATE INDEX transfer_sagas_state ON transfer_sagas (state, updated_at);

-- Canonical lots whose retained MES topic (trace/lots/<id>) is to be published again.
CREATE TABLE lot_feed (
  canonical_lot_id uuid        PRIMARY KEY,
  changed_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Reconciliation: each run asks one ERP for its lots (a REPORT_LOTS command, run id = command
-- id), collects the report's lines (LOT_STOCK_REPORTED events) and, when all are in, records
-- how the ERP and the centre differ.
CREATE TABLE reconciliation_runs (
  run_id          uuid        PRIMARY KEY,
  plant_id        text        NOT NULL,
  source_system   text        NOT NULL,
  lot_filter      text        NOT NULL DEFAULT '*',
  material_filter text        NOT NULL DEFAULT '*',
  state           text        NOT NULL
    CHECK (state IN ('requested', 'done', 'rejected', 'incomplete')),
  expected_lines  integer,
  reason          text,
  drift           integer,
  requested_at    timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX reconciliation_runs_latest
  ON reconciliation_runs (plant_id, source_system, requested_at DESC);
CREATE INDEX reconciliation_runs_open ON reconciliation_runs (requested_at)
  WHERE state = 'requested';

CREATE TABLE reconciliation_lines (
  run_id   uuid    NOT NULL REFERENCES reconciliation_runs,
  line     integer NOT NULL,
  lot_id   text    NOT NULL,
  material text    NOT NULL,
  quantity numeric NOT NULL,
  uom      text    NOT NULL,
  PRIMARY KEY (run_id, line)
);

CREATE TABLE reconciliation_drift (
  run_id          uuid    NOT NULL REFERENCES reconciliation_runs,
  lot_id          text    NOT NULL,
  kind            text    NOT NULL CHECK (kind IN
    ('unknown_to_centre', 'missing_in_erp', 'material_differs', 'quantity_differs')),
  erp_material    text,
  erp_quantity    numeric,
  centre_material text,
  centre_quantity numeric,
  uom             text,
  PRIMARY KEY (run_id, lot_id, kind)
);
`,
  },
  {
    version: 3,
    name: "set-based batches: audit chain aggregate, shipment lookup by lot",
    sql: `
-- A batch's audit rows are chained in one INSERT: a running aggregate over the batch in order,
-- sha256(previous hash || the event's jsonb text), starting from the plant's chain head.
-- verifyAuditChain recomputes the same formula row by row.
CREATE FUNCTION plantgate_chain_step(state bytea, head bytea, data bytea) RETURNS bytea
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN sha256(coalesce(state, head) || data);
END $$;
CREATE AGGREGATE plantgate_chain(head bytea, data bytea) (
  SFUNC = plantgate_chain_step,
  STYPE = bytea
);

-- Relinking walks shipments by lot (who shipped the lot received, what a lot was shipped as).
CREATE INDEX shipment_lots_lot ON shipment_lots (plant_id, source_system, lot_id, role);
`,
  },
];

/** Applies the migrations not yet applied, in order; returns the versions it applied. */
export async function migrate(sql: Sql): Promise<number[]> {
  return await sql.begin(async (tx) => {
    // One replica migrates; the others wait here and then find nothing left to do.
    await tx`SELECT pg_advisory_xact_lock(hashtext('plantgate:migrate'))`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set(
      (await tx`SELECT version FROM schema_migrations`).map((r) => Number(r.version)),
    );
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO schema_migrations (version, name)
        VALUES (${migration.version}, ${migration.name})`;
      applied.push(migration.version);
    }
    return applied;
  });
}
