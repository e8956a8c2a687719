import { QueryFailedError } from 'typeorm';
import { classifyWriteFailure, sqlStateOf } from './write-failure';

/** An error as pg (and PGlite) raise it: a DatabaseError with a SQLSTATE `code` and a severity. */
function databaseError(code: string, message = `error ${code}`): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

/** The same, wrapped by TypeORM, which copies the driver error's fields onto its own. */
function queryFailed(code: string, message?: string): QueryFailedError {
  return new QueryFailedError('INSERT ...', [], databaseError(code, message));
}

/** A Node system error (socket, DNS). */
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), {
    code,
    errno: -111,
    syscall: 'connect',
  });
}

const kind = (error: unknown): string => classifyWriteFailure(error).kind;

describe('classifyWriteFailure', () => {
  it.each([
    ['08006', 'connection_failure'],
    ['08001', 'sqlclient_unable_to_establish_sqlconnection'],
    ['57P01', 'admin_shutdown'],
    ['57P02', 'crash_shutdown'],
    ['57P03', 'cannot_connect_now'],
    ['53100', 'disk_full'],
    ['53300', 'too_many_connections'],
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock_detected'],
    ['57014', 'query_canceled (statement timeout)'],
    ['55P03', 'lock_not_available'],
    ['58030', 'io_error'],
    ['28P01', 'invalid_password'],
    ['3D000', 'the database does not exist'],
    ['42P01', 'undefined_table'],
  ])('SQLSTATE %s (%s) is transient', (code) => {
    expect(classifyWriteFailure(queryFailed(code))).toMatchObject({
      kind: 'transient',
      sqlState: code,
    });
    expect(kind(databaseError(code))).toBe('transient');
  });

  it.each([
    ['22P05', 'untranslatable_character (NUL in jsonb)'],
    ['22021', 'character_not_in_repertoire (NUL in text)'],
    ['22P02', 'invalid_text_representation (not a uuid)'],
    ['22001', 'string_data_right_truncation'],
    ['23505', 'unique_violation'],
    ['23514', 'check_violation'],
    ['23502', 'not_null_violation'],
    ['42804', 'datatype_mismatch'],
    ['XX000', 'internal_error'],
  ])('SQLSTATE %s (%s) is permanent', (code) => {
    expect(classifyWriteFailure(queryFailed(code, 'connection timeout'))).toMatchObject({
      kind: 'permanent',
      sqlState: code,
      name: 'QueryFailedError',
    });
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'])(
    'the system error %s is transient, and no SQLSTATE',
    (code) => {
      expect(classifyWriteFailure(systemError(code))).toMatchObject({
        kind: 'transient',
        sqlState: null,
      });
      // also when nested (TypeORM's driverError, a cause, an AggregateError of both addresses)
      expect(kind(new Error('wrapped', { cause: systemError(code) }))).toBe('transient');
      expect(kind(new AggregateError([systemError(code), systemError(code)]))).toBe('transient');
    },
  );

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error and is not queryable',
    'PGlite is closed',
    'Cannot use a pool after calling end on the pool',
    'terminating connection due to administrator command',
  ])('"%s" (no code) is transient', (message) => {
    expect(classifyWriteFailure(new Error(message))).toMatchObject({
      kind: 'transient',
      sqlState: null,
      message,
    });
  });

  it('TypeORM not being connected is transient', () => {
    const error = Object.assign(new Error('Cannot execute operation on "default" connection'), {
      name: 'CannotExecuteNotConnectedError',
    });
    expect(kind(error)).toBe('transient');
  });

  it('a mapper failing on a malformed event is permanent, whatever its message', () => {
    expect(
      classifyWriteFailure(new TypeError("Cannot read properties of undefined (reading 'kind')")),
    ).toEqual({
      kind: 'permanent',
      sqlState: null,
      message: "Cannot read properties of undefined (reading 'kind')",
      name: 'TypeError',
    });
    expect(kind(new TypeError('connection timeout in a bug'))).toBe('permanent');
    expect(kind(new RangeError('Invalid time value'))).toBe('permanent');
  });

  it('anything else is permanent', () => {
    expect(kind(new Error('something odd'))).toBe('permanent');
    expect(classifyWriteFailure('a string')).toMatchObject({
      kind: 'permanent',
      message: 'a string',
    });
    expect(kind(undefined)).toBe('permanent');
    expect(kind({ code: 42 })).toBe('permanent');
  });

  it('reads the SQLSTATE through wrappers and never from a system error', () => {
    expect(sqlStateOf(new Error('outer', { cause: queryFailed('22P05') }))).toBe('22P05');
    expect(sqlStateOf(systemError('EPIPE'))).toBeNull();
    expect(sqlStateOf(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBeNull();
    expect(sqlStateOf(new Error('plain'))).toBeNull();
  });
});
