import { Controller, Get, HttpException, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Public } from './auth.js';
import { rootLogger } from './logger.js';

/** One dependency a service needs to be ready (database, bus, a peer). */
export interface ReadinessCheck {
  name: string;
  /** What a user calls it, e.g. "message broker" (default: the name). */
  label?: string;
  check(): Promise<void>;
}

const TIMEOUT_MS = 2000;

/** A check's failure whose message is meant for the public body as it is (it holds no address). */
export class ReadinessProblem extends Error {}

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

export async function runReadinessChecks(checks: ReadinessCheck[]) {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)));
        await Promise.race([c.check(), timeout]).finally(() => clearTimeout(timer));
        return { name: c.name, ok: true };
      } catch (error) {
        // The body is public (probes, load balancers): it names the dependency; its address and stack stay in the log.
        rootLogger().warn({ err: error, dependency: c.name }, 'readiness check failed');
        return { name: c.name, ok: false, error: error instanceof ReadinessProblem ? error.message : `${c.label ?? c.name} unavailable` };
      }
    }),
  );
  const down = results.filter((r) => !r.ok).map((r) => r.error);
  return { ready: down.length === 0, ...(down.length ? { message: down.join('; ') } : {}), checks: results };
}

@Controller()
export class HealthController {
  constructor(@Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[]) {}

  /** Liveness: the process answers. */
  @Public()
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness: every dependency answers; 503 names the one that does not. */
  @Public()
  @Get('readyz')
  async readyz() {
    const report = await runReadinessChecks(this.checks);
    if (!report.ready) throw new HttpException(report, 503);
    return report;
  }
}

@Module({})
export class HealthModule {
  static forChecks(provider: { useFactory: (...args: never[]) => ReadinessCheck[]; inject: unknown[] }): DynamicModule {
    return {
      module: HealthModule,
      controllers: [HealthController],
      providers: [{ provide: READINESS_CHECKS, useFactory: provider.useFactory, inject: provider.inject as never[] }],
    };
  }
}
