import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { HOST_PORT, HOST_PORT_MESSAGE } from '#common/config.js';

const message = (name: string) => `${name} ${HOST_PORT_MESSAGE}`;

export class GatewayConfig {
  @Type(() => Number)
  @IsInt({ message: 'HTTP_PORT must be an integer port number' })
  @Min(0)
  @Max(65535)
  HTTP_PORT = 8080;

  @Matches(HOST_PORT, { message: message('AUTH_GRPC_URL') }) AUTH_GRPC_URL: string;
  @Matches(HOST_PORT, { message: message('CATALOG_GRPC_URL') }) CATALOG_GRPC_URL: string;
  @Matches(HOST_PORT, { message: message('EXECUTION_GRPC_URL') }) EXECUTION_GRPC_URL: string;
  @Matches(HOST_PORT, { message: message('LOGGING_GRPC_URL') }) LOGGING_GRPC_URL: string;
  @Matches(HOST_PORT, { message: message('BACKUP_GRPC_URL') }) BACKUP_GRPC_URL: string;

  /** Address the gateway listens on. */
  @IsOptional()
  HTTP_HOST = '0.0.0.0';
}
