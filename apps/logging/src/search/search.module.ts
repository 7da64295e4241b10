import { Module } from '@nestjs/common';
import { LogsModule } from '../logs/logs.module.js';
import { SearchIndexer } from './search-indexer.service.js';
import { SearchGrpcController } from './search.grpc.js';
import { SearchRepository } from './search.repository.js';
import { SearchService } from './search.service.js';

@Module({
  imports: [LogsModule],
  controllers: [SearchGrpcController],
  providers: [SearchRepository, SearchService, SearchIndexer],
})
export class SearchModule {}
