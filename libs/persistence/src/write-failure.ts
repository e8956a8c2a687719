/**
 * Why a write to the database failed, in the one sense the persistence worker cares about:
 *
 * - **transient**: the database is unreachable, restarting, overloaded or asked us to try again.
 *   Nothing is wrong with the data; the same write will succeed later. Wait and retry.
 * - **permanent**: anything else - the data itself is refused (SQLSTATE class 22 data exceptions
 *   such as 22P05 / 22021 for NUL characters or lone surrogates, class 23 constraint violations),
 *   or the event is malformed (a mapper throws a TypeError). Retrying the same write fails again;
 *   the culprit must be isolated.
 */
export type WriteFailureKind = 'transient' | 'permanent';

export interface WriteFailure {
  readonly kind: WriteFailureKind;
  /** The PostgreSQL SQLSTATE when the database answered with one. */
  readonly sqlState: string | null;
  /** The error's message (its name when it has none). */
  readonly message: string;
  /** The error's class name, e.g. `QueryFailedError`, `TypeError`. */
  readonly name: string;
}

/** SQLSTATE classes that mean "the database cannot serve now", whatever the data. */
const TRANSIENT_CLASSES = new Set([
  '08', // connection exception
  '53', // insufficient resources (disk full, out of memory, too many connections)
  '58', // system error (I/O error) of the server
]);

/**
 * Single SQLSTATEs that mean the same. Besides shutdown, restarts, timeouts and the two "try
 * again" answers, the errors of a deployment that is not (yet) right - a failed login, a missing
 * database, schema, table or privilege - can never be caused by an event's content; taking them
 * for permanent would move every event to the dead letters.
 */
const TRANSIENT_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '57P05', // idle_session_timeout
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '25P03', // idle_in_transaction_session_timeout
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name (the database does not exist)
  '3F000', // invalid_schema_name
  '42P01', // undefined_table
  '42501', // insufficient_privilege
]);

/** Socket and DNS errors of the client (`error.code` of Node's system errors). */
const TRANSIENT_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** Messages of pg, pg-pool, TypeORM and PGlite for a lost or closed connection, or a timeout. */
const TRANSIENT_MESSAGE =
  /connection terminated|connection (?:refused|reset|closed|ended|error)|not queryable|timeout|timed out|pglite is closed|pool after calling end|not connected|no connection|connection is not established|already released|terminating connection|the database system is (?:starting up|shutting down|in recovery)/i;

/** Error classes of TypeORM that mean the data source is not (or no longer) connected. */
const TRANSIENT_NAMES = new Set([
  'CannotExecuteNotConnectedError',
  'ConnectionIsNotSetError',
  // the connection of a transaction was lost or released under it (seen while PostgreSQL stopped)
  'QueryRunnerProviderAlreadyReleasedError',
  'QueryRunnerAlreadyReleasedError',
]);

const SQLSTATE = /^[0-9A-Z]{5}$/;

interface ErrorLike {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly syscall?: unknown;
  readonly message?: unknown;
  readonly name?: unknown;
  readonly driverError?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/** The error and the errors it wraps (TypeORM's `driverError`, `cause`, AggregateError's `errors`). */
function chainOf(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < 16) {
    const next = queue.shift();
    if (next === null || typeof next !== 'object' || chain.includes(next)) continue;
    const item = next as ErrorLike;
    chain.push(item);
    queue.push(item.driverError, item.cause);
    if (Array.isArray(item.errors)) queue.push(...(item.errors as unknown[]));
  }
  return chain;
}

const isSystemError = (e: ErrorLike): boolean =>
  typeof e.code === 'string' && (e.errno !== undefined || e.syscall !== undefined);

/** The SQLSTATE of a database error (pg's and PGlite's `code`, also through TypeORM's wrapper). */
export function sqlStateOf(error: unknown): string | null {
  for (const e of chainOf(error)) {
    const { code } = e;
    if (typeof code !== 'string' || !SQLSTATE.test(code)) continue;
    // EPIPE has five letters too: a system error's code is no SQLSTATE.
    if (!isSystemError(e) && !TRANSIENT_SYSTEM_CODES.has(code)) return code;
  }
  return null;
}

function isTransient(chain: ErrorLike[], sqlState: string | null): boolean {
  if (sqlState !== null) {
    return TRANSIENT_CLASSES.has(sqlState.slice(0, 2)) || TRANSIENT_STATES.has(sqlState);
  }
  for (const e of chain) {
    if (typeof e.code === 'string' && TRANSIENT_SYSTEM_CODES.has(e.code)) return true;
    if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  }
  // A TypeError or RangeError is a malformed event (or a bug), whatever its text says.
  const [top] = chain;
  if (top instanceof TypeError || top instanceof RangeError) return false;
  return chain.some((e) => typeof e.message === 'string' && TRANSIENT_MESSAGE.test(e.message));
}

/** Classifies a failed journal (or dead-letter store) write; see {@link WriteFailureKind}. */
export function classifyWriteFailure(error: unknown): WriteFailure {
  const chain = chainOf(error);
  const sqlState = sqlStateOf(error);
  const [top] = chain;
  const name = typeof top?.name === 'string' && top.name !== '' ? top.name : typeof error;
  const message =
    typeof top?.message === 'string' && top.message !== ''
      ? top.message
      : top === undefined
        ? String(error)
        : name;
  return {
    kind: isTransient(chain, sqlState) ? 'transient' : 'permanent',
    sqlState,
    message,
    name,
  };
}
