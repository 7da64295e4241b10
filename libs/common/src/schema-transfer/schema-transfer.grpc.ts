import { timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, GrpcStreamCall } from '@nestjs/microservices';
import type { Metadata, ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import { from, type Observable } from 'rxjs';
import type {
  ExportFilesRequest,
  ImportFilesResult,
  ImportSchemaResult,
  SchemaDescription,
  TransferChunk,
} from '#contracts/generated/scriptorium/schema/v1/schema_transfer.js';
import { SCHEMA_TRANSFER_TOKEN_HEADER, SchemaTransferPackage } from '#contracts/grpc-packages.js';
import { Public } from '../auth.js';
import type { ServiceConfig } from '../config.js';
import { DomainError, failedPrecondition, permissionDenied, toGrpcError } from '../errors.js';
import { rootLogger } from '../logger.js';
import { SchemaTransfer } from './schema-transfer.service.js';

const SERVICE = SchemaTransferPackage.service;

async function* chunks(stream: Readable): AsyncGenerator<TransferChunk> {
  for await (const data of stream) yield { data: data as Buffer, prefix: '' };
}

/**
 * The SchemaTransferService of this service. Not a user's API: the caller proves it is the
 * installation's backup service with the shared SCHEMA_TRANSFER_TOKEN.
 */
@Controller()
@Public()
export class SchemaTransferGrpcController {
  constructor(
    private readonly transfer: SchemaTransfer,
    @Inject('SERVICE_CONFIG') private readonly config: ServiceConfig,
  ) {}

  private authorize(metadata: Metadata | undefined): void {
    const expected = this.config.SCHEMA_TRANSFER_TOKEN;
    if (!expected) throw failedPrecondition(`the ${this.transfer.options.service} service has no SCHEMA_TRANSFER_TOKEN set, so it can be neither backed up nor restored`);
    const given = Buffer.from(String(metadata?.get(SCHEMA_TRANSFER_TOKEN_HEADER)[0] ?? ''));
    const want = Buffer.from(expected);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw permissionDenied('schema transfer needs the installation\'s SCHEMA_TRANSFER_TOKEN');
  }

  private requireFiles(): void {
    if (!this.transfer.options.filesDir) throw failedPrecondition(`the ${this.transfer.options.service} service keeps no files`);
  }

  @GrpcMethod(SERVICE, 'DescribeSchema')
  async describeSchema(_request: object, metadata?: Metadata): Promise<SchemaDescription> {
    this.authorize(metadata);
    const { service, schema, filesDir, excludedTables } = this.transfer.options;
    return { service, schema, migrations: await this.transfer.appliedMigrations(), hasFiles: !!filesDir, excludedTables: excludedTables ?? [] };
  }

  @GrpcMethod(SERVICE, 'ExportSchema')
  exportSchema(_request: object, metadata?: Metadata): Observable<TransferChunk> {
    this.authorize(metadata);
    return from((async function* (transfer: SchemaTransfer) {
      yield* chunks(await transfer.export());
    })(this.transfer));
  }

  @GrpcMethod(SERVICE, 'ExportFiles')
  exportFiles(request: ExportFilesRequest, metadata?: Metadata): Observable<TransferChunk> {
    this.authorize(metadata);
    this.requireFiles();
    return from((async function* (transfer: SchemaTransfer) {
      yield* chunks(await transfer.exportFiles(request.prefix));
    })(this.transfer));
  }

  // Client streams are read from the call itself, so a slow database holds the sender back.
  @GrpcStreamCall(SERVICE, 'ImportSchema')
  importSchema(call: ServerReadableStream<TransferChunk, ImportSchemaResult>, callback: sendUnaryData<ImportSchemaResult>): void {
    this.answer(callback, async () => {
      this.authorize(call.metadata);
      return { rows: await this.transfer.import(Readable.from(this.data(call))) };
    });
  }

  @GrpcStreamCall(SERVICE, 'ImportFiles')
  importFiles(call: ServerReadableStream<TransferChunk, ImportFilesResult>, callback: sendUnaryData<ImportFilesResult>): void {
    this.answer(callback, async () => {
      this.authorize(call.metadata);
      this.requireFiles();
      const iterator = call[Symbol.asyncIterator]() as AsyncIterator<TransferChunk>;
      const first = await iterator.next();
      const prefix = first.done ? '' : first.value.prefix;
      async function* rest(): AsyncGenerator<Buffer> {
        if (!first.done) yield Buffer.from(first.value.data);
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield Buffer.from(next.value.data);
      }
      return this.transfer.importFiles(Readable.from(rest()), prefix);
    });
  }

  private async *data(call: AsyncIterable<TransferChunk>): AsyncGenerator<Buffer> {
    for await (const chunk of call) yield Buffer.from(chunk.data);
  }

  private answer<T>(callback: sendUnaryData<T>, work: () => Promise<T>): void {
    work().then(
      (result) => callback(null, result),
      (error: unknown) => {
        if (error instanceof DomainError) return callback(toGrpcError(error) as never);
        rootLogger().error({ err: error, service: this.transfer.options.service }, 'schema transfer import failed');
        callback({ code: 3 /* INVALID_ARGUMENT */, details: `import refused: ${(error as Error).message}` } as never);
      },
    );
  }
}
