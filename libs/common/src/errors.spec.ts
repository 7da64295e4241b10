import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { QueryFailedError } from 'typeorm';
import { GRPC_PEER, grpcErrorToHttp, isDatabaseUnavailable, toGrpcError, databaseUnavailable } from './errors.js';

const { Client } = createRequire(import.meta.url)('pg') as { Client: new (config: object) => { connect(): Promise<void> } };

/** A PostgreSQL error as the driver reports it: message and SQLSTATE. */
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('isDatabaseUnavailable', () => {
  test('a database that refuses connections (the real driver error) is unavailable', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const error = await new Client({ host: '127.0.0.1', port, user: 'x', database: 'x' }).connect().then(
      () => assert.fail('connected to a closed port'),
      (e: unknown) => e,
    );
    assert.equal(isDatabaseUnavailable(error), true, String(error));
  });

  test('a server shutting down, restarting or cut off is unavailable', () => {
    for (const [code, message] of [
      ['57P01', 'terminating connection due to administrator command'],
      ['57P02', 'terminating connection due to crash of another server process'],
      ['57P03', 'the database system is shutting down'],
      ['08006', 'connection failure'],
      ['08001', 'could not connect'],
      ['ECONNRESET', 'read ECONNRESET'],
      ['EPIPE', 'write EPIPE'],
    ]) {
      assert.equal(isDatabaseUnavailable(pgError(code!, message!)), true, code);
    }
    for (const message of ['Connection terminated unexpectedly', 'Connection terminated due to connection timeout', 'timeout exceeded when trying to connect', 'Query read timeout']) {
      assert.equal(isDatabaseUnavailable(new Error(message)), true, message);
    }
  });

  test('found through TypeORM and Node wrappers', () => {
    const wrapped = new QueryFailedError('SELECT 1', [], pgError('57P01', 'terminating connection due to administrator command'));
    assert.equal(isDatabaseUnavailable(wrapped), true);
    assert.equal(isDatabaseUnavailable(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })])), true);
    assert.equal(isDatabaseUnavailable(new Error('query failed', { cause: new Error('Connection terminated unexpectedly') })), true);
  });

  test("a statement's own failure is not, whatever its message says", () => {
    for (const [code, message] of [
      ['23505', 'duplicate key value violates unique constraint'],
      ['42P01', 'relation "execution.executions" does not exist'],
      ['22P02', 'invalid input syntax for type uuid: "Connection terminated"'],
      ['40001', 'could not serialize access'],
    ]) {
      assert.equal(isDatabaseUnavailable(new QueryFailedError('q', [], pgError(code!, message!))), false, code);
    }
    assert.equal(isDatabaseUnavailable(new TypeError('x is undefined')), false);
    assert.equal(isDatabaseUnavailable(undefined), false);
    assert.equal(isDatabaseUnavailable('ECONNREFUSED'), false);
  });
});

describe('UNAVAILABLE over HTTP', () => {
  test("a service's database outage: 503, its message and a Retry-After", () => {
    const grpc = toGrpcError(databaseUnavailable('execution'));
    const mapped = grpcErrorToHttp({ ...grpc, details: grpc.message });
    assert.equal(mapped?.status, 503);
    assert.equal(mapped?.body.message, "the execution service's database is unavailable; retry shortly");
    assert.match(mapped?.retryAfter ?? '', /^\d+$/);
  });

  test('a peer grpc-js could not reach: 503 naming the peer, never its address', () => {
    const error = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: GrpcStatus.UNAVAILABLE,
      details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:40123',
      metadata: new Metadata(),
    });
    Object.defineProperty(error, GRPC_PEER, { value: 'logging' });
    const mapped = grpcErrorToHttp(error);
    assert.equal(mapped?.status, 503);
    assert.equal(mapped?.body.message, 'the logging service is unavailable; retry shortly');
    assert.match(mapped?.retryAfter ?? '', /^\d+$/);
  });
});
