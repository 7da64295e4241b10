import { Controller, Get, HttpException, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Public } from './auth.js';

/** One dependency a service needs to be ready (database, bus, a peer). */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

export async function runReadinessChecks(checks: ReadinessCheck[]) {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        await Promise.race([c.check(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 2 s')), 2000))]);
        return { name: c.name, ok: true };
      } catch (error) {
        return { name: c.name, ok: false, error: (error as Error).message };
      }
    }),
  );
  return { ready: results.every((r) => r.ok), checks: results };
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
