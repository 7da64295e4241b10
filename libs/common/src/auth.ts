import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import jwt from 'jsonwebtoken';
import { isLevel, levelAtLeast, type Level } from '#contracts/levels.js';
import { permissionDenied, unauthenticated } from './errors.js';
import { setRequestCaller } from './request-context.js';
import { grpcCallMetadata } from './grpc-call-metadata.js';

/** Who is asking: taken from a verified access token. */
export interface Caller {
  userId: string;
  username: string;
  level: Level;
  language: string;
  theme: string;
  /** The raw `Bearer …` value, forwarded when this service calls another on the caller's behalf. */
  authorization: string;
  /** Set when the caller used a personal API token (`sct_…`) instead of an access token: its id. */
  apiTokenId?: string;
}

/** Personal API tokens start with this; anything else in a bearer header is taken for a JWT. */
export const API_TOKEN_PREFIX = 'sct_';

export function isApiToken(token: string | undefined): boolean {
  return typeof token === 'string' && token.startsWith(API_TOKEN_PREFIX);
}

/** Who an API token belongs to and what it may do, as the auth service resolves it. */
export interface ApiTokenIdentity {
  userId: string;
  username: string;
  /** Effective level: the lower of the token's and its owner's current level. */
  level: Level;
  language: string;
  theme: string;
  tokenId: string;
}

/** The caller acting with a resolved API token. */
export function callerFromApiToken(identity: ApiTokenIdentity, token: string): Caller {
  return {
    userId: identity.userId,
    username: identity.username,
    level: identity.level,
    language: identity.language || 'en',
    theme: identity.theme || 'light',
    authorization: `Bearer ${token}`,
    apiTokenId: identity.tokenId,
  };
}

export const TOKEN_ISSUER = 'scriptorium';
export const TOKEN_AUDIENCE = 'scriptorium';
export const TOKEN_ALGORITHM = 'RS256';

export interface VerificationKey {
  kid: string;
  publicKeyPem: string;
}

const parsedKeys = new Map<string, KeyObject>();

/** A verification key, parsed once: parsing a PEM costs several times more than checking a signature. */
export function publicKeyOf(key: VerificationKey): KeyObject {
  let parsed = parsedKeys.get(key.publicKeyPem);
  if (!parsed) {
    if (parsedKeys.size >= 32) parsedKeys.clear(); // keys rotate rarely; this only bounds the cache
    parsed = createPublicKey(key.publicKeyPem);
    parsedKeys.set(key.publicKeyPem, parsed);
  }
  return parsed;
}

/**
 * Where a service gets the public keys that verify access tokens, and how it resolves
 * personal API tokens. JWTs are verified locally; API tokens are opaque, so a source
 * asks the auth service (GrpcVerificationKeySource caches answers for a few seconds).
 */
export abstract class VerificationKeySource {
  abstract getKeys(forceRefresh?: boolean): Promise<VerificationKey[]>;

  /** Resolves an `sct_` token or rejects with UNAUTHENTICATED. Sources without a way to ask auth refuse them. */
  verifyApiToken(_token: string): Promise<ApiTokenIdentity> {
    return Promise.reject(unauthenticated('API tokens are not accepted by this service'));
  }
}

/** Verifies access tokens locally against the published public keys. */
@Injectable()
export class TokenVerifier {
  constructor(private readonly keys: VerificationKeySource) {}

  async verify(authorization: string | undefined): Promise<Caller> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw unauthenticated('Missing bearer token: send "Authorization: Bearer <access token>" (log in to get one)');
    if (isApiToken(token)) return callerFromApiToken(await this.keys.verifyApiToken(token), token);
    const kid = tokenKeyId(token);
    if (!kid) throw unauthenticated('Malformed access token');
    let key = (await this.keys.getKeys()).find((k) => k.kid === kid);
    key ??= (await this.keys.getKeys(true)).find((k) => k.kid === kid);
    if (!key) throw unauthenticated('Access token signed with an unknown key');
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(token, publicKeyOf(key), {
        algorithms: [TOKEN_ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
      }) as jwt.JwtPayload;
    } catch (error) {
      const expired = error instanceof jwt.TokenExpiredError;
      throw unauthenticated(expired ? 'Access token expired: refresh it or log in again' : 'Invalid access token');
    }
    return callerFromClaims(claims, `Bearer ${token}`);
  }
}

/** The caller described by verified access-token claims. */
export function callerFromClaims(claims: jwt.JwtPayload, authorization: string): Caller {
  if (claims.typ !== 'access' || typeof claims.sub !== 'string' || !isLevel(claims.level)) {
    throw unauthenticated('Invalid access token');
  }
  return {
    userId: claims.sub,
    username: String(claims.username ?? ''),
    level: claims.level,
    language: String(claims.lang ?? 'en'),
    theme: String(claims.theme ?? 'light'),
    authorization,
  };
}

/** The key id in a token's header, or undefined for a malformed token. */
export function tokenKeyId(token: string): string | undefined {
  const kid = jwt.decode(token, { complete: true })?.header.kid;
  return typeof kid === 'string' ? kid : undefined;
}

export function requireLevel(caller: Caller, level: Level, what: string): void {
  if (!levelAtLeast(caller.level, level)) throw permissionDenied(`${what} requires level ${level}; you are ${caller.level}`);
}

export const PUBLIC_ROUTE = 'scriptorium:public';
/** Marks a gRPC method or HTTP route that needs no caller (login, key publication, health). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

const callers = new WeakMap<object, Caller>();

/** The verified caller of a gRPC call, set by GrpcAuthGuard. */
export function callerOf(metadata: Metadata | undefined): Caller {
  const caller = metadata && callers.get(metadata);
  if (!caller) throw unauthenticated('Missing bearer token');
  return caller;
}

/**
 * The one gate of every gRPC method: verifies the bearer token in the call's
 * metadata (unless the method is @Public) and names the caller in the request
 * context (see `grpcRequestContext`) for the call's log lines.
 */
@Injectable()
export class GrpcAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'rpc') return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const metadata = grpcCallMetadata(context);
    const authorization = metadata.get('authorization')[0];
    const caller = await this.verifier.verify(authorization ? String(authorization) : undefined);
    callers.set(metadata, caller);
    setRequestCaller(caller.userId);
    return true;
  }
}
