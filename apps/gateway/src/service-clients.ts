import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import type { AuthServiceClient } from '#contracts/generated/scriptorium/auth/v1/auth.js';
import type { BackupServiceClient } from '#contracts/generated/scriptorium/backup/v1/backup.js';
import type { CatalogServiceClient } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import type { ExecutionServiceClient } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import type { LoggingServiceClient } from '#contracts/generated/scriptorium/logging/v1/logging.js';
import { GrpcPackages, type ServiceName } from '#contracts/grpc-packages.js';
import { grpcClientToken } from '#common/grpc.js';

/** Typed gRPC clients of every service the gateway fronts. */
@Injectable()
export class ServiceClients implements OnModuleInit {
  auth: AuthServiceClient;
  catalog: CatalogServiceClient;
  execution: ExecutionServiceClient;
  logging: LoggingServiceClient;
  backup: BackupServiceClient;

  constructor(
    @Inject(grpcClientToken('auth')) private readonly authClient: ClientGrpc,
    @Inject(grpcClientToken('catalog')) private readonly catalogClient: ClientGrpc,
    @Inject(grpcClientToken('execution')) private readonly executionClient: ClientGrpc,
    @Inject(grpcClientToken('logging')) private readonly loggingClient: ClientGrpc,
    @Inject(grpcClientToken('backup')) private readonly backupClient: ClientGrpc,
  ) {}

  onModuleInit() {
    this.auth = this.authClient.getService(GrpcPackages.auth.service);
    this.catalog = this.catalogClient.getService(GrpcPackages.catalog.service);
    this.execution = this.executionClient.getService(GrpcPackages.execution.service);
    this.logging = this.loggingClient.getService(GrpcPackages.logging.service);
    this.backup = this.backupClient.getService(GrpcPackages.backup.service);
  }

  /** Resolves when the service's channel is connected, rejects after `ms`. */
  waitForReady(service: ServiceName, ms: number): Promise<void> {
    const clients = { auth: this.authClient, catalog: this.catalogClient, execution: this.executionClient, logging: this.loggingClient, backup: this.backupClient };
    const grpcClient = (clients[service] as unknown as { getClientByServiceName(name: string): { waitForReady(deadline: number, cb: (e?: Error) => void): void } })
      .getClientByServiceName(GrpcPackages[service].service);
    return new Promise((resolve, reject) => grpcClient.waitForReady(Date.now() + ms, (e) => (e ? reject(e) : resolve())));
  }
}
