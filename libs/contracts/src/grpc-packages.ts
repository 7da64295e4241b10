/** Where each service's gRPC API is defined, relative to the proto/ root. */
export const GrpcPackages = {
  auth: { package: 'scriptorium.auth.v1', protoFile: 'scriptorium/auth/v1/auth.proto', service: 'AuthService' },
  catalog: { package: 'scriptorium.catalog.v1', protoFile: 'scriptorium/catalog/v1/catalog.proto', service: 'CatalogService' },
  execution: {
    package: 'scriptorium.execution.v1',
    protoFile: 'scriptorium/execution/v1/execution.proto',
    service: 'ExecutionService',
  },
  logging: { package: 'scriptorium.logging.v1', protoFile: 'scriptorium/logging/v1/logging.proto', service: 'LoggingService' },
  backup: { package: 'scriptorium.backup.v1', protoFile: 'scriptorium/backup/v1/backup.proto', service: 'BackupService' },
} as const;

export type ServiceName = keyof typeof GrpcPackages;
export const SERVICE_NAMES = Object.keys(GrpcPackages) as ServiceName[];

/** Served by every service beside its own package: the export and import of its own schema (backups). */
export const SchemaTransferPackage = {
  package: 'scriptorium.schema.v1',
  protoFile: 'scriptorium/schema/v1/schema_transfer.proto',
  service: 'SchemaTransferService',
} as const;

/** Metadata key of the installation's transfer token on SchemaTransferService calls. */
export const SCHEMA_TRANSFER_TOKEN_HEADER = 'x-schema-transfer-token';
