import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { HOST_PORT, HOST_PORT_MESSAGE } from '#common/config.js';

const message = (name: string) => `${name} ${HOST_PORT_MESSAGE}`;

const PROXY = String.raw`(loopback|linklocal|uniquelocal|(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)(/\d{1,3})?)`;
const PROXY_LIST = new RegExp(String.raw`^\s*(${PROXY}(\s*,\s*${PROXY})*)?\s*$`);

/** The Express "trust proxy" setting for TRUSTED_PROXIES: nobody when empty. */
export function trustProxySetting(trustedProxies: string): false | string[] {
  const list = trustedProxies.split(',').map((p) => p.trim()).filter(Boolean);
  return list.length ? list : false;
}

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

  /**
   * Proxies (the ingress) whose X-Forwarded-For is believed, as Express "trust proxy" addresses:
   * comma-separated IPs, CIDRs or loopback, linklocal, uniquelocal. Empty (the default): none, and the
   * client's address is the connection's peer, so a client cannot name its own address (the audit
   * trail and the login lockout depend on it).
   */
  @Matches(PROXY_LIST, { message: 'TRUSTED_PROXIES must be comma-separated IP addresses or CIDRs (or loopback, linklocal, uniquelocal), e.g. 10.0.0.0/8' })
  TRUSTED_PROXIES = '';

  /** Address the gateway listens on. */
  @IsOptional()
  HTTP_HOST = '0.0.0.0';
}
