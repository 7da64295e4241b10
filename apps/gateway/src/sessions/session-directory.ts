import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import type { SessionServiceClient } from '#contracts/generated/scriptorium/execution/v1/execution.js';
import { callMetadata, grpcClientToken } from '#common/grpc.js';
import type { SessionProxyConfig } from './session-hosts.js';

export const SESSION_SERVICE = 'SessionService';
import { SESSION_PROXY_CONFIG } from './sessions.tokens.js';

/**
 * The execution service's SessionService, with the proxy's short cache of resolved
 * upstreams (keyed by session and a hash of the browser credential; failures are never cached).
 */
@Injectable()
export class SessionDirectory implements OnModuleInit {
  client: SessionServiceClient;
  private readonly cache = new Map<string, { upstream: string; until: number }>();

  constructor(
    @Inject(grpcClientToken('execution')) private readonly grpc: ClientGrpc,
    @Inject(SESSION_PROXY_CONFIG) private readonly config: SessionProxyConfig,
  ) {}

  onModuleInit() {
    this.client = this.grpc.getService<SessionServiceClient>(SESSION_SERVICE);
  }

  /** Exchanges a one-time entry token for a browser credential. */
  redeem(sessionId: string, token: string) {
    return firstValueFrom(this.client.redeemSessionEntry({ sessionId, token }, callMetadata()));
  }

  /** Where the session's traffic goes, for this credential; rejects with the service's gRPC error. */
  async upstream(sessionId: string, credential: string): Promise<string> {
    const key = `${sessionId}:${createHash('sha256').update(credential).digest('base64url')}`;
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return cached.upstream;
    const answer = await firstValueFrom(this.client.resolveSessionUpstream({ sessionId, credential }, callMetadata()));
    if (this.config.SESSION_UPSTREAM_CACHE_MS > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, { upstream: answer.upstream, until: Date.now() + this.config.SESSION_UPSTREAM_CACHE_MS });
    }
    return answer.upstream;
  }

  /** Forgets a session's cached upstreams (its script stopped answering). */
  forget(sessionId: string) {
    for (const key of this.cache.keys()) if (key.startsWith(`${sessionId}:`)) this.cache.delete(key);
  }
}
