import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { LoggingConfig } from '../logging.config.js';
import { SearchRepository } from './search.repository.js';

/** Rows indexed per statement: small, so a statement never holds the database long. */
const ROWS_PER_PASS = 20;

/**
 * Computes the search vectors of stored rows off the ingest path: a write of output never
 * waits for text analysis, and search computes the vector itself for rows not reached yet.
 * Replicas share the work (FOR UPDATE SKIP LOCKED).
 */
@Injectable()
export class SearchIndexer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SearchIndexer.name);
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly repository: SearchRepository,
    @Inject('SERVICE_CONFIG') private readonly config: LoggingConfig,
  ) {}

  onApplicationBootstrap() {
    this.schedule(this.config.LOG_INDEX_INTERVAL_MS);
  }

  onApplicationShutdown() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number) {
    if (!this.stopped) this.timer = setTimeout(() => void this.pass(), ms);
  }

  private async pass() {
    let indexed = 0;
    try {
      indexed = await this.repository.indexPending(ROWS_PER_PASS);
    } catch (error) {
      this.logger.warn(`indexing log rows for search failed, retrying: ${(error as Error).message}`);
    }
    // A full pass means more is waiting: go on soon, but yield to ingest in between.
    this.schedule(indexed === ROWS_PER_PASS ? 10 : this.config.LOG_INDEX_INTERVAL_MS);
  }
}
