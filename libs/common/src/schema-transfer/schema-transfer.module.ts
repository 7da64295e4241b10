import { Module, type DynamicModule } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ServiceSchema } from '../database.js';
import { SchemaTransferGrpcController } from './schema-transfer.grpc.js';
import { SchemaTransfer } from './schema-transfer.service.js';

export interface SchemaTransferRegistration {
  excludedTables?: string[];
  filesDir?: string;
  /** Refreshes what the service keeps in memory from its tables, once an import replaced them. */
  afterImport?: (app: ModuleRef) => Promise<void> | void;
}

/**
 * Serves SchemaTransferService for one service's own schema (and files), so the backup
 * service can export and import it. Each app registers it once in its *.app.ts.
 */
@Module({})
export class SchemaTransferModule {
  static forService(service: string, schema: ServiceSchema, registration: SchemaTransferRegistration = {}): DynamicModule {
    return {
      module: SchemaTransferModule,
      controllers: [SchemaTransferGrpcController],
      providers: [
        {
          provide: SchemaTransfer,
          inject: [getDataSourceToken(), ModuleRef],
          useFactory: (dataSource: DataSource, app: ModuleRef) => {
            const { afterImport, ...options } = registration;
            return new SchemaTransfer(
              dataSource,
              { service, schema: schema.schema, migrations: schema.migrations.map((m) => (m as unknown as { name: string }).name), ...options },
              afterImport && (() => afterImport(app)),
            );
          },
        },
      ],
    };
  }
}
