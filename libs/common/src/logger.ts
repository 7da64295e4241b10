import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';
import { currentRequestContext } from './request-context.js';

let root: Logger | undefined;

/** The process-wide JSON logger; every line carries the current request's id and caller when there is one. */
export function rootLogger(): Logger {
  root ??= pino({
    level: process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => ({ ...currentRequestContext() }),
  });
  return root;
}

/**
 * Nest's start-up chatter (one line per module and route) and the warning that
 * several apps of one process register a default DataSource (all-in-one does so
 * on purpose, each app in its own container) are debug detail, not news.
 */
const QUIET_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication', 'NestMicroservice', 'DataSourceNameRegistry']);

/** Nest's logger interface over pino, one per service so lines say where they come from. */
export class JsonLogger implements LoggerService {
  private readonly logger: Logger;

  constructor(service: string) {
    this.logger = rootLogger().child({ service });
  }

  log(message: unknown, context?: string) {
    this.write(QUIET_CONTEXTS.has(context ?? '') ? 'debug' : 'info', message, context);
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.write(QUIET_CONTEXTS.has(context ?? '') ? 'debug' : 'warn', message, context);
  }
  debug(message: unknown, context?: string) {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.write('trace', message, context);
  }

  private write(level: 'info' | 'warn' | 'debug' | 'trace', message: unknown, context?: string) {
    if (typeof message === 'object' && message !== null) this.logger[level]({ context, ...message });
    else this.logger[level]({ context }, String(message));
  }
}
