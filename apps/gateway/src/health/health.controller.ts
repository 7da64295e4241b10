import { Controller, Get, HttpException } from '@nestjs/common';
import { SERVICE_NAMES } from '#contracts/grpc-packages.js';
import { Public } from '#common/auth.js';
import { runReadinessChecks } from '#common/health.js';
import { ServiceClients } from '../service-clients.js';

@Controller()
export class GatewayHealthController {
  constructor(private readonly clients: ServiceClients) {}

  @Public()
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  /** Ready when every backing service's gRPC channel connects. */
  @Public()
  @Get('readyz')
  async readyz() {
    const report = await runReadinessChecks(SERVICE_NAMES.map((name) => ({ name, check: () => this.clients.waitForReady(name, 1500) })));
    if (!report.ready) throw new HttpException(report, 503);
    return report;
  }
}
