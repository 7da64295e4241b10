import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { createProxyServer } from 'http-proxy-3';
import { rootLogger } from '#common/logger.js';
import { SessionDirectory } from './session-directory.js';
import { SESSION_HOSTS } from './sessions.tokens.js';
import type { SessionHosts } from './session-hosts.js';

/** The session host's cookie: `__Host-` (no Domain, Path=/, Secure) over https, plain over http. */
export const SESSION_COOKIE = 'scriptorium-session';
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
export const ENTER_PATH = '/__scriptorium/enter';
/** Cookie names the product reserves: never forwarded to a script. */
const PRODUCT_COOKIE = /^(__host-|__secure-)?scriptorium/i;

interface Refusal {
  status: number;
  title: string;
  message: string;
  retry?: boolean;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(refusal: Refusal): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(refusal.title)} · Scriptorium</title>${
    refusal.retry ? '<meta http-equiv="refresh" content="2">' : ''
  }<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style></head>` +
    `<body><h1>${escapeHtml(refusal.title)}</h1><p>${escapeHtml(refusal.message)}</p></body></html>`;
}

/** The security headers of the proxy's own pages (never of the script's). */
const OWN_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
};

function cookiesOf(header: string | undefined): { name: string; value: string; raw: string }[] {
  return (header ?? '')
    .split(';')
    .map((raw) => raw.trim())
    .filter(Boolean)
    .map((raw) => {
      const eq = raw.indexOf('=');
      return eq < 0 ? { name: raw, value: '', raw } : { name: raw.slice(0, eq).trim(), value: raw.slice(eq + 1).trim(), raw };
    });
}

/**
 * Serves session hosts (`<session-id>.<SESSIONS_DOMAIN>`): nothing of the product (its API,
 * UI and live streams answer only on its own origin), only
 *   - `GET /__scriptorium/enter?token=…`: a one-time entry token exchanged for a cookie
 *     scoped to this host alone (HttpOnly, SameSite=Lax, no Domain; Secure over https),
 *     then a redirect to `/`;
 *   - everything else, with a valid cookie: proxied (HTTP and WebSocket upgrades) to the
 *     session's upstream, which the execution service names (cached briefly). The product's
 *     Authorization header and cookies, and the session cookie itself, are stripped first.
 * Without a valid cookie: 401 (none) or 403 (not valid) with a page that says what to do.
 * A request whose Origin is another host is refused (no cross-site form posts or sockets).
 */
@Injectable()
export class SessionProxy implements OnModuleDestroy {
  private readonly proxy = createProxyServer({ xfwd: false, ws: true, changeOrigin: false, cookieDomainRewrite: { '*': '' } });
  private readonly log = rootLogger().child({ service: 'gateway', component: 'SessionProxy' });

  constructor(
    private readonly directory: SessionDirectory,
    @Inject(SESSION_HOSTS) readonly hosts: SessionHosts,
  ) {
    this.proxy.on('error', (error, req, target) => {
      const sessionId = (req as IncomingMessage & { sessionId?: string }).sessionId;
      if (sessionId) this.directory.forget(sessionId);
      const refusal: Refusal = {
        status: 502,
        title: 'The session is not answering',
        message: "The session's script is not answering yet (it may still be starting, or it has stopped). This page tries again every 2 seconds.",
        retry: true,
      };
      if (target && 'writeHead' in target) {
        const res = target as ServerResponse;
        if (!res.headersSent) this.sendPage(res, refusal);
        else res.end();
      } else if (target) {
        this.refuseSocket(target as Duplex, refusal);
      }
      this.log.debug({ err: error, sessionId }, 'session upstream failed');
    });
  }

  onModuleDestroy() {
    this.proxy.close();
  }

  /** Express middleware, installed before everything else: takes every request to a session host. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const sessionId = this.hosts.sessionIdOf(req.headers.host);
    if (sessionId === undefined) return next();
    void this.serveHttp(sessionId, req, res).catch((error) => {
      this.log.error({ err: error }, 'session proxy failed');
      if (!res.headersSent) this.sendPage(res, { status: 500, title: 'Session proxy error', message: 'Something went wrong; try again.' });
      else res.end();
    });
  };

  /** Attaches the WebSocket side; returns a view of the server whose 'upgrade' listeners never see session hosts. */
  attach(server: Server): Server {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const sessionId = this.hosts.sessionIdOf(req.headers.host);
      if (sessionId === undefined) return;
      void this.serveUpgrade(sessionId, req, socket, head).catch((error) => {
        this.log.error({ err: error }, 'session proxy upgrade failed');
        socket.destroy();
      });
    });
    const isSessionHost = (req: IncomingMessage) => this.hosts.sessionIdOf(req.headers.host) !== undefined;
    return new Proxy(server, {
      get: (target, property) => {
        if (property === 'on' || property === 'addListener') {
          return (event: string, listener: (req: IncomingMessage, ...rest: unknown[]) => void) => {
            if (event !== 'upgrade') return target.on(event, listener);
            return target.on(event, (req: IncomingMessage, ...rest: unknown[]) => (isSessionHost(req) ? undefined : listener(req, ...rest)));
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  // ----------------------------------------------------------------------------- HTTP

  private async serveHttp(sessionId: string | null, req: IncomingMessage, res: ServerResponse) {
    const refusal = this.precheck(sessionId, req);
    if (refusal) return this.sendPage(res, refusal);
    const url = new URL(req.url ?? '/', 'http://session');
    if (url.pathname === ENTER_PATH) return this.enter(sessionId!, url.searchParams.get('token') ?? '', req, res);
    if (url.pathname.startsWith('/__scriptorium/')) {
      return this.sendPage(res, { status: 404, title: 'Not found', message: 'This address is reserved by Scriptorium.' });
    }
    const resolved = await this.resolve(sessionId!, req);
    if ('status' in resolved) return this.sendPage(res, resolved);
    this.strip(req, sessionId!);
    this.proxy.web(req, res, { target: `http://${resolved.upstream}` });
  }

  private async enter(sessionId: string, token: string, req: IncomingMessage, res: ServerResponse) {
    if (req.method !== 'GET') return this.sendPage(res, { status: 405, title: 'Method not allowed', message: 'Open the entry link with GET.' });
    try {
      const { credential, maxAgeSeconds } = await this.directory.redeem(sessionId, token);
      const secure = this.isHttps(req);
      const cookie = `${secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE}=${credential}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
      res.writeHead(302, { location: '/', 'set-cookie': cookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end();
    } catch (error) {
      this.sendPage(res, this.refusalFor(error, 'entry'));
    }
  }

  // ----------------------------------------------------------------------------- WebSocket

  private async serveUpgrade(sessionId: string | null, req: IncomingMessage, socket: Duplex, head: Buffer) {
    const refusal = this.precheck(sessionId, req);
    if (refusal) return this.refuseSocket(socket, refusal);
    const resolved = await this.resolve(sessionId!, req);
    if ('status' in resolved) return this.refuseSocket(socket, resolved);
    this.strip(req, sessionId!);
    this.proxy.ws(req, socket, head, { target: `ws://${resolved.upstream}` });
  }

  // ----------------------------------------------------------------------------- shared

  private precheck(sessionId: string | null, req: IncomingMessage): Refusal | undefined {
    if (!sessionId) return { status: 404, title: 'No such session', message: 'This address names no Scriptorium session.' };
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        // "null" or garbage: refused below.
      }
      if (originHost !== (req.headers.host ?? '').toLowerCase()) {
        return { status: 403, title: 'Cross-origin request refused', message: 'A session accepts requests only from its own pages.' };
      }
    }
    return undefined;
  }

  /** The session's upstream for the request's cookie, or why it is refused. */
  private async resolve(sessionId: string, req: IncomingMessage): Promise<{ upstream: string } | Refusal> {
    const credentials = cookiesOf(req.headers.cookie)
      .filter((c) => c.name === SESSION_COOKIE || c.name === SECURE_SESSION_COOKIE)
      .map((c) => c.value)
      .filter(Boolean)
      .slice(0, 4);
    if (!credentials.length) {
      return {
        status: 401,
        title: 'Sign-in needed',
        message: 'You are not signed in to this session. Open it from Scriptorium (Sessions → Open): the link signs you in for this session only.',
      };
    }
    let last: unknown;
    // A sibling host may have planted a cookie of the same name: try each one sent.
    for (const credential of credentials) {
      try {
        return { upstream: await this.directory.upstream(sessionId, credential) };
      } catch (error) {
        last = error;
      }
    }
    return this.refusalFor(last, 'cookie');
  }

  private refusalFor(error: unknown, what: 'entry' | 'cookie'): Refusal {
    const e = error as { code?: number; details?: string };
    if (e?.code === GrpcStatus.FAILED_PRECONDITION) return { status: 410, title: 'Session ended', message: e.details ?? 'This session has ended.' };
    if (e?.code === GrpcStatus.PERMISSION_DENIED || e?.code === GrpcStatus.UNAUTHENTICATED) {
      return what === 'entry'
        ? { status: 403, title: 'Entry link not valid', message: e.details ?? 'This entry link is not valid.' }
        : {
            status: 403,
            title: 'Access not valid',
            message: 'Your access to this session is not valid (it expired, or belongs to another session). Open the session again from Scriptorium.',
          };
    }
    if (e?.code === GrpcStatus.UNAVAILABLE) return { status: 503, title: 'Try again shortly', message: 'A backing service is unavailable.', retry: true };
    this.log.error({ err: error }, 'session lookup failed');
    return { status: 500, title: 'Session proxy error', message: 'Something went wrong; try again.' };
  }

  /** Nothing of the product reaches the script: no Authorization, no product cookies, not the session cookie. */
  private strip(req: IncomingMessage, sessionId: string) {
    (req as IncomingMessage & { sessionId?: string }).sessionId = sessionId;
    delete req.headers.authorization;
    delete req.headers['proxy-authorization'];
    const kept = cookiesOf(req.headers.cookie).filter((c) => !PRODUCT_COOKIE.test(c.name));
    if (kept.length) req.headers.cookie = kept.map((c) => c.raw).join('; ');
    else delete req.headers.cookie;
  }

  private isHttps(req: IncomingMessage): boolean {
    if ((req.socket as { encrypted?: boolean }).encrypted) return true;
    // Behind the ingress (a trusted proxy, as Express' trust proxy setting says), its forwarded protocol.
    const forwarded = (req as IncomingMessage & { protocol?: string }).protocol;
    return forwarded === 'https';
  }

  private sendPage(res: ServerResponse, refusal: Refusal) {
    const body = page(refusal);
    res.writeHead(refusal.status, { ...OWN_PAGE_HEADERS, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private refuseSocket(socket: Duplex, refusal: Refusal) {
    if (!socket.writable) return void socket.destroy();
    const body = refusal.message;
    socket.end(
      `HTTP/1.1 ${refusal.status} ${refusal.title}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}
