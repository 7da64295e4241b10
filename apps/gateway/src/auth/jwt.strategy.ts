import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { ExtractJwt, Strategy } from 'passport-jwt';
import {
  callerFromClaims,
  tokenKeyId,
  TOKEN_ALGORITHM,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  VerificationKeySource,
  type Caller,
} from '#common/auth.js';

/** Verifies the bearer access token of every HTTP request and WebSocket upgrade, locally, with the published keys. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(keys: VerificationKeySource) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: [TOKEN_ALGORITHM],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      passReqToCallback: true,
      secretOrKeyProvider: (_request: Request, rawJwt: string, done: (error: Error | null, key?: string) => void) => {
        const kid = tokenKeyId(rawJwt);
        if (!kid) return done(new Error('Malformed access token'));
        const find = (force: boolean) => keys.getKeys(force).then((list) => list.find((k) => k.kid === kid));
        find(false)
          .then((key) => key ?? find(true))
          .then((key) => (key ? done(null, key.publicKeyPem) : done(new Error('Access token signed with an unknown key'))))
          .catch((error: Error) => done(error));
      },
    });
  }

  validate(request: Request, claims: Record<string, unknown>): Caller {
    return callerFromClaims(claims, request.headers.authorization ?? '');
  }
}
