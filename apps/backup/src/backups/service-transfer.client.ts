import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { credentials, loadPackageDefinition, Metadata, type Client, type ClientReadableStream, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ImportFilesResult, ImportSchemaResult, SchemaDescription, TransferChunk } from '#contracts/generated/scriptorium/schema/v1/schema_transfer.js';
import { SCHEMA_TRANSFER_TOKEN_HEADER, SchemaTransferPackage } from '#contracts/grpc-packages.js';
import { GRPC_CLIENT_CHANNEL_OPTIONS } from '#common/grpc.js';
import { PROTO_ROOT } from '#common/paths.js';

type TransferStub = Client & {
  DescribeSchema(request: object, metadata: Metadata, callback: (error: ServiceError | null, answer: SchemaDescription) => void): void;
  ExportSchema(request: object, metadata: Metadata): ClientReadableStream<TransferChunk>;
  ExportFiles(request: { prefix: string }, metadata: Metadata): ClientReadableStream<TransferChunk>;
  ImportSchema(metadata: Metadata, callback: (error: ServiceError | null, answer: ImportSchemaResult) => void): ClientWritableStream<TransferChunk>;
  ImportFiles(metadata: Metadata, callback: (error: ServiceError | null, answer: ImportFilesResult) => void): ClientWritableStream<TransferChunk>;
};

/** Services in the order a backup exports and a restore imports them. */
// Runs before logs: every run in an archive has its log up to at least the moment the run was read.
export const TRANSFER_ORDER = ['auth', 'catalog', 'execution', 'logging', 'backup'] as const;
export type TransferService = (typeof TRANSFER_ORDER)[number];

/**
 * Streams of each service's SchemaTransferService: plain grpc-js streams (not Observables),
 * so an archive's bytes flow with backpressure between the file and the service.
 */
export class ServiceTransferClients {
  private readonly stubs = new Map<TransferService, TransferStub>();

  constructor(
    addresses: Record<TransferService, string>,
    private readonly token: string,
  ) {
    const definition = loadSync(join(PROTO_ROOT, SchemaTransferPackage.protoFile), { keepCase: false, longs: Number, enums: String, defaults: true, includeDirs: [PROTO_ROOT] });
    const Stub = (loadPackageDefinition(definition).scriptorium as never as { schema: { v1: Record<string, new (address: string, creds: unknown, options: object) => TransferStub> } }).schema.v1[
      SchemaTransferPackage.service
    ];
    for (const service of TRANSFER_ORDER) this.stubs.set(service, new Stub(addresses[service], credentials.createInsecure(), { ...GRPC_CLIENT_CHANNEL_OPTIONS, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set(SCHEMA_TRANSFER_TOKEN_HEADER, this.token);
    return metadata;
  }

  private stub(service: TransferService): TransferStub {
    return this.stubs.get(service)!;
  }

  describe(service: TransferService): Promise<SchemaDescription> {
    return new Promise((resolve, reject) => this.stub(service).DescribeSchema({}, this.metadata(), (error, answer) => (error ? reject(named(service, error)) : resolve(answer))));
  }

  exportSchema(service: TransferService): Readable {
    return bytesOf(service, this.stub(service).ExportSchema({}, this.metadata()));
  }

  exportFiles(service: TransferService, prefix = ''): Readable {
    return bytesOf(service, this.stub(service).ExportFiles({ prefix }, this.metadata()));
  }

  importSchema(service: TransferService, body: Readable): Promise<ImportSchemaResult> {
    return this.upload(service, body, '', (metadata, callback) => this.stub(service).ImportSchema(metadata, callback));
  }

  importFiles(service: TransferService, body: Readable, prefix = ''): Promise<ImportFilesResult> {
    return this.upload(service, body, prefix, (metadata, callback) => this.stub(service).ImportFiles(metadata, callback));
  }

  private upload<T>(
    service: TransferService,
    body: Readable,
    prefix: string,
    open: (metadata: Metadata, callback: (error: ServiceError | null, answer: T) => void) => ClientWritableStream<TransferChunk>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let first = true;
      const call = open(this.metadata(), (error, answer) => (error ? reject(named(service, error)) : resolve(answer)));
      const toChunks = new Transform({
        writableObjectMode: false,
        readableObjectMode: true,
        transform(data: Buffer, _encoding, done) {
          done(null, { data, prefix: first ? prefix : '' });
          first = false;
        },
        flush(done) {
          // An empty body still tells the service its prefix.
          if (first) this.push({ data: Buffer.alloc(0), prefix });
          done();
        },
      });
      pipeline(body, toChunks, call as unknown as NodeJS.WritableStream).catch((error: Error) => {
        call.cancel();
        reject(error);
      });
    });
  }

  close(): void {
    for (const stub of this.stubs.values()) stub.close();
  }
}

function named(service: string, error: ServiceError): Error {
  return Object.assign(new Error(`the ${service} service: ${error.details || error.message}`), { code: error.code });
}

function bytesOf(service: string, call: ClientReadableStream<TransferChunk>): Readable {
  const bytes = new Transform({
    writableObjectMode: true,
    transform(chunk: TransferChunk, _encoding, done) {
      done(null, Buffer.from(chunk.data));
    },
  });
  call.on('error', (error: ServiceError) => bytes.destroy(named(service, error)));
  return call.pipe(bytes);
}
