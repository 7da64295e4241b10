import { ServiceConfig } from '#common/config.js';

export class LoggingConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50054';
  HTTP_PORT = 8084;
}
