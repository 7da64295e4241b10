import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { ExtractJwt, Strategy } from 'passport-jwt';
import {
  callerFromApiToken,
  callerFromClaims,
  isApiToken,
  publicKeyOf,
  tokenKeyId,
  TOKEN_ALGORITHM,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  VerificationKeySource,
  type Caller,
} from '#common/auth.js';

const bearerOf = ExtractJwt.fromAuthHeaderAsBearerToken();

/**
 * Verifies the bearer token of every HTTP request and WebSocket upgrade. Access tokens
 * (JWTs) are verified locally with the published keys; personal API tokens (`sct_…`)
 * are resolved by the auth service (VerifyApiToken), cached for a few seconds by the
 * key source, so a revocation takes effect within API_TOKEN_CACHE_MS.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(private readonly keys: VerificationKeySource) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: [TOKEN_ALGORITHM],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      passReqToCallback: true,
      secretOrKeyProvider: (_request: Request, rawJwt: string, done: (error: Error | null, key?: string) => void) => {
        // The key goes to jsonwebtoken, which takes a parsed KeyObject (passport-jwt's types say string).
        const kid = tokenKeyId(rawJwt);
        if (!kid) return done(new Error('Malformed access token'));
        const find = (force: boolean) => keys.getKeys(force).then((list) => list.find((k) => k.kid === kid));
        find(false)
          .then((key) => key ?? find(true))
          .then((key) => (key ? done(null, publicKeyOf(key) as unknown as string) : done(new Error('Access token signed with an unknown key'))))
          .catch((error: Error) => done(error));
      },
    });
  }

  authenticate(request: Request, options?: object): void {
    const token = bearerOf(request);
    if (!token || !isApiToken(token)) return super.authenticate(request, options);
    this.keys.verifyApiToken(token).then(
      (identity) => this.success(callerFromApiToken(identity, token)),
      (error: Error) => this.error(error),
    );
  }

  validate(request: Request, claims: Record<string, unknown>): Caller {
    return callerFromClaims(claims, request.headers.authorization ?? '');
  }
}
