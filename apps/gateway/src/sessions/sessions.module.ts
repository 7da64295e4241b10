import { Module, type DynamicModule } from '@nestjs/common';
import { grpcClientsModule } from '#common/grpc.js';
import { SessionDirectory } from './session-directory.js';
import { SessionHosts, sessionProxyConfigFrom } from './session-hosts.js';
import { SessionProxy } from './session-proxy.js';
import { SessionsController } from './sessions.controller.js';
import { SESSION_HOSTS, SESSION_PROXY_CONFIG } from './sessions.tokens.js';

/**
 * Interactive sessions at the edge: the REST API on the product's origin, and the proxy
 * that serves each session from its own host name. `gateway.app.ts` installs
 * `SessionProxy.middleware` before anything else and lets it attach to the HTTP server.
 */
@Module({})
export class SessionsGatewayModule {
  static forRoot(gatewayConfig: { EXECUTION_GRPC_URL: string }): DynamicModule {
    const config = sessionProxyConfigFrom(gatewayConfig);
    return {
      module: SessionsGatewayModule,
      imports: [grpcClientsModule({ execution: gatewayConfig.EXECUTION_GRPC_URL })],
      controllers: [SessionsController],
      providers: [
        { provide: SESSION_PROXY_CONFIG, useValue: config },
        { provide: SESSION_HOSTS, useValue: new SessionHosts(config) },
        SessionDirectory,
        SessionProxy,
      ],
      exports: [SessionProxy],
    };
  }
}
