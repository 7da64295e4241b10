import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { ArgumentsHost } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { QueryFailedError } from 'typeorm';
import { databaseUnavailable, GRPC_PEER, toGrpcError } from './errors.js';
import { GrpcExceptionFilter } from './grpc-errors.js';

const rpcHost = { getType: () => 'rpc' } as unknown as ArgumentsHost;

/** What the filter sends the gRPC caller for `exception`. */
async function answer(exception: unknown) {
  const error = await firstValueFrom(new GrpcExceptionFilter('execution').catch(exception, rpcHost)).then(
    () => assert.fail('the filter completed without an error'),
    (e: { code: number; message: string; metadata?: Metadata }) => e,
  );
  return { code: error.code, message: error.message, retryAfter: error.metadata?.get('retry-after')[0] };
}

describe('GrpcExceptionFilter', () => {
  test("a database that cannot be reached: UNAVAILABLE naming this service's database, with retry-after", async () => {
    const driverError = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    assert.deepEqual(await answer(new QueryFailedError('SELECT 1', [], driverError)), {
      code: GrpcStatus.UNAVAILABLE,
      message: "the execution service's database is unavailable; retry shortly",
      retryAfter: '5',
    });
  });

  test('a peer grpc-js could not reach: UNAVAILABLE naming the peer, without its address', async () => {
    const error = Object.assign(new Error('14 UNAVAILABLE'), {
      code: GrpcStatus.UNAVAILABLE,
      details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:40123',
      metadata: new Metadata(),
    });
    Object.defineProperty(error, GRPC_PEER, { value: 'catalog' });
    assert.deepEqual(await answer(error), { code: GrpcStatus.UNAVAILABLE, message: 'the catalog service is unavailable; retry shortly', retryAfter: '5' });
  });

  test("a peer's own UNAVAILABLE answer (its database away) passes through unchanged", async () => {
    const sent = toGrpcError(databaseUnavailable('catalog'));
    const error = Object.assign(new Error('14 UNAVAILABLE'), { code: GrpcStatus.UNAVAILABLE, details: sent.message, metadata: sent.metadata });
    assert.deepEqual(await answer(error), { code: GrpcStatus.UNAVAILABLE, message: "the catalog service's database is unavailable; retry shortly", retryAfter: '5' });
  });

  test('any other statement error stays INTERNAL, its text hidden', async () => {
    const driverError = Object.assign(new Error('relation "x" does not exist'), { code: '42P01' });
    assert.deepEqual(await answer(new QueryFailedError('SELECT 1', [], driverError)), { code: GrpcStatus.INTERNAL, message: 'Internal error', retryAfter: undefined });
  });
});
