/**
 * PostgreSQL connections (postgres.js) for the central role.
 *
 * @module
 */
import postgres from "postgres";

/** A postgres.js client. */
export type Sql = postgres.Sql;

/** A postgres.js client inside a transaction. */
export type TransactionSql = postgres.TransactionSql;

/** Where the central database is. */
export interface PostgresOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** Connections in the pool. Default 10. */
  max?: number;
}

/** A connection pool; notices (e.g. "already exists, skipping") are not printed. */
export function connectPostgres(options: PostgresOptions): Sql {
  return postgres({
    host: options.host,
    port: options.port,
    database: options.database,
    username: options.user,
    password: options.password,
    max: options.max ?? 10,
    onnotice: () => {},
  });
}

/** SQLSTATEs worth retrying the whole transaction for: serialization failure, deadlock. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === "40001" || code === "40P01";
}
