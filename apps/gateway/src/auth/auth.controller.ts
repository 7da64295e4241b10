import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import type { LoginResponse } from '#contracts/generated/scriptorium/auth/v1/auth.js';
import { Public, type Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import { ServiceClients } from '../service-clients.js';
import { ApiErrors } from '../error-body.js';
import { ApiTokenListDto, CreatedApiTokenDto, SignInDto, UserDto } from './auth.dto.js';
import { CurrentCaller } from './current-caller.decorator.js';
import { ChangePasswordDto, CreateApiTokenDto, ListApiTokensQuery, LoginDto, RefreshDto, UpdatePreferencesDto } from './dto.js';

@Controller('api/v1')
export class AuthController {
  constructor(private readonly clients: ServiceClients) {}

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  @ApiErrors({
    401: 'Wrong username or password',
    403: 'The account is deactivated',
    429: 'Too many failed sign-ins: the account is locked at this address for a while (Retry-After)',
  })
  async login(@Body() body: LoginDto): Promise<SignInDto> {
    return signIn(await firstValueFrom(this.clients.auth.login(body, callMetadata())));
  }

  @Public()
  @Post('auth/refresh')
  @HttpCode(200)
  @ApiErrors({ 401: 'The refresh token is unknown, expired or already used', 403: 'The account is deactivated' })
  async refresh(@Body() body: RefreshDto): Promise<SignInDto> {
    return signIn(await firstValueFrom(this.clients.auth.refresh(body, callMetadata())));
  }

  @Post('auth/logout')
  @HttpCode(204)
  async logout(@CurrentCaller() caller: Caller, @Body() body: RefreshDto) {
    await firstValueFrom(this.clients.auth.logout(body, callMetadata(caller.authorization)));
  }

  @Get('me')
  me(@CurrentCaller() caller: Caller): Promise<UserDto> {
    return firstValueFrom(this.clients.auth.getMe({}, callMetadata(caller.authorization)));
  }

  /**
   * Changes the caller's language and/or theme. Takes effect at once for everything that
   * reads the account (GET /me, new runs); access tokens issued before still carry the old
   * values until refreshed, so the UI refreshes its token after this call.
   */
  @Patch('me')
  updatePreferences(@CurrentCaller() caller: Caller, @Body() body: UpdatePreferencesDto): Promise<UserDto> {
    return firstValueFrom(this.clients.auth.updatePreferences(body, callMetadata(caller.authorization)));
  }

  /** Changes the caller's password; their other sessions are signed out, this one stays. */
  @Post('me/password')
  @HttpCode(204)
  async changePassword(@CurrentCaller() caller: Caller, @Body() body: ChangePasswordDto) {
    await firstValueFrom(this.clients.auth.changePassword(body, callMetadata(caller.authorization)));
  }

  /** Creates a personal API token; the `token` in the answer is shown only this once. */
  @Post('me/tokens')
  @HttpCode(201)
  @ApiErrors({ 409: 'You already have as many active API tokens as allowed; revoke one first' })
  async createToken(@CurrentCaller() caller: Caller, @Body() body: CreateApiTokenDto): Promise<CreatedApiTokenDto> {
    const created = await firstValueFrom(
      this.clients.auth.createApiToken({ name: body.name, level: body.level ?? '', expiresInDays: body.expiresInDays ?? 0 }, callMetadata(caller.authorization)),
    );
    return { ...created, apiToken: created.apiToken! };
  }

  @Get('me/tokens')
  async listTokens(@CurrentCaller() caller: Caller, @Query() query: ListApiTokensQuery): Promise<ApiTokenListDto> {
    const response = await firstValueFrom(
      this.clients.auth.listApiTokens({ userId: '', includeInactive: query.includeInactive ?? false }, callMetadata(caller.authorization)),
    );
    return { items: response.apiTokens };
  }

  @Delete('me/tokens/:id')
  @HttpCode(204)
  async revokeToken(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    await firstValueFrom(this.clients.auth.revokeApiToken({ id }, callMetadata(caller.authorization)));
  }
}

/** The auth service always sends the signed-in user with the tokens. */
export const signIn = (answer: LoginResponse): SignInDto => ({ ...answer, user: answer.user! });
