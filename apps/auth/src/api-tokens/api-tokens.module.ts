import { Module } from '@nestjs/common';
import { ApiTokensService } from './api-tokens.service.js';

@Module({
  providers: [ApiTokensService],
  exports: [ApiTokensService],
})
export class ApiTokensModule {}
