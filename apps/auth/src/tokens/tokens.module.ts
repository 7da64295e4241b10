import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module.js';
import { RefreshTokenRecord } from './refresh-token.entity.js';
import { LoginThrottle } from './login-throttle.service.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import { SessionsService } from './sessions.service.js';
import { TokensService } from './tokens.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([RefreshTokenRecord]), UsersModule],
  providers: [RefreshTokensRepository, TokensService, SessionsService, LoginThrottle],
  exports: [TokensService, SessionsService, LoginThrottle],
})
export class TokensModule {}
