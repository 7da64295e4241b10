import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import type { CatalogServiceClient, ListGroupsResponse, Script } from '#contracts/generated/scriptorium/catalog/v1/catalog.js';
import { GrpcPackages } from '#contracts/grpc-packages.js';
import { callMetadata, grpcClientToken } from '#common/grpc.js';

/** Asks the catalog as the caller (so their level applies): a script's resolved definition, the groups they see. */
@Injectable()
export class CatalogClient implements OnModuleInit {
  private catalog: CatalogServiceClient;

  constructor(@Inject(grpcClientToken('catalog')) private readonly client: ClientGrpc) {}

  onModuleInit() {
    this.catalog = this.client.getService<CatalogServiceClient>(GrpcPackages.catalog.service);
  }

  getScript(scriptId: string, language: string, authorization: string): Promise<Script> {
    return firstValueFrom(this.catalog.getScript({ scriptId, language, omitPersonalTags: true }, callMetadata(authorization)));
  }

  listGroups(authorization: string): Promise<ListGroupsResponse> {
    return firstValueFrom(this.catalog.listGroups({ language: '' }, callMetadata(authorization)));
  }
}
