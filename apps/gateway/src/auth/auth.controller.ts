import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { Public, type Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import { ServiceClients } from '../service-clients.js';
import { CurrentCaller } from './current-caller.decorator.js';
import { LoginDto, RefreshDto } from './dto.js';

@Controller('api/v1')
export class AuthController {
  constructor(private readonly clients: ServiceClients) {}

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  login(@Body() body: LoginDto) {
    return firstValueFrom(this.clients.auth.login(body, callMetadata()));
  }

  @Public()
  @Post('auth/refresh')
  @HttpCode(200)
  refresh(@Body() body: RefreshDto) {
    return firstValueFrom(this.clients.auth.refresh(body, callMetadata()));
  }

  @Post('auth/logout')
  @HttpCode(204)
  async logout(@CurrentCaller() caller: Caller, @Body() body: RefreshDto) {
    await firstValueFrom(this.clients.auth.logout(body, callMetadata(caller.authorization)));
  }

  @Get('me')
  me(@CurrentCaller() caller: Caller) {
    return firstValueFrom(this.clients.auth.getMe({}, callMetadata(caller.authorization)));
  }
}
