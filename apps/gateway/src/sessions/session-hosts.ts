import { Type } from 'class-transformer';
import { IsInt, Matches, Max, Min } from 'class-validator';
import { loadConfig } from '#common/config.js';
import { isUuid } from '#common/ids.js';

/** The session proxy's settings, read from the gateway's environment. */
export class SessionProxyConfig {
  /**
   * Host-name suffix of session hosts: a session is served at `<session-id>.<SESSIONS_DOMAIN>`.
   * Default `sessions.localhost` (browsers resolve every *.localhost name to loopback), with the
   * port of the request that asked for the session. Give a port (`sessions.example.com:8443`)
   * when the session hosts are published on another one. Point a wildcard DNS record (and
   * certificate) at the gateway for `*.<SESSIONS_DOMAIN>`.
   */
  @Matches(/^(?=.{1,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:\d{1,5})?$/, {
    message: 'SESSIONS_DOMAIN must be a host name (with at least one dot) and optional :port, e.g. sessions.example.com',
  })
  SESSIONS_DOMAIN = 'sessions.localhost';

  /** How long the proxy reuses a session's resolved upstream before asking the execution service again. */
  @Type(() => Number)
  @IsInt({ message: 'SESSION_UPSTREAM_CACHE_MS must be an integer number of milliseconds' })
  @Min(0)
  @Max(60_000)
  SESSION_UPSTREAM_CACHE_MS = 2000;
}

export function sessionProxyConfigFrom(gatewayConfig: object): SessionProxyConfig {
  const source = Object.fromEntries(
    Object.entries(gatewayConfig).filter(([, v]) => typeof v === 'string' || typeof v === 'number').map(([k, v]) => [k, String(v)]),
  );
  return loadConfig(SessionProxyConfig, source);
}

/** Recognizes session hosts and builds their URLs. */
export class SessionHosts {
  readonly domain: string;
  readonly port?: string;

  constructor(config: SessionProxyConfig) {
    const [domain, port] = config.SESSIONS_DOMAIN.toLowerCase().split(':');
    this.domain = domain;
    this.port = port;
  }

  /**
   * For a Host header: undefined when it is not a session host (the product's own origin),
   * null for a session host that names no valid session, else the session id.
   */
  sessionIdOf(hostHeader: string | undefined): string | null | undefined {
    const host = (hostHeader ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    if (host === this.domain) return null;
    if (!host.endsWith(`.${this.domain}`)) return undefined;
    const label = host.slice(0, -this.domain.length - 1);
    return isUuid(label) ? label : null;
  }

  /** The session's base URL, on the scheme and (unless configured) port of the product's own request. */
  urlFor(sessionId: string, protocol: string, productHost: string | undefined): string {
    const port = this.port ?? /:(\d+)$/.exec(productHost ?? '')?.[1];
    const defaultPort = (protocol === 'https' && port === '443') || (protocol === 'http' && port === '80');
    return `${protocol}://${sessionId}.${this.domain}${port && !defaultPort ? `:${port}` : ''}/`;
  }
}
