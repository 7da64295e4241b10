import { Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Patch, Post, Query } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import type { Caller } from '#common/auth.js';
import { callMetadata } from '#common/grpc.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { ApiTokenListDto, UserDto } from '../auth/auth.dto.js';
import { ApiErrors } from '../error-body.js';
import { ServiceClients } from '../service-clients.js';
import { UnlockedUserDto, UserPageDto } from './users.dto.js';
import { CreateUserDto, ListUsersQuery, ResetPasswordDto, UpdateUserDto, UserTokensQuery } from './dto.js';

/**
 * User administration (level admin; the auth service decides and answers 403 otherwise).
 *
 * DELETE anonymizes the account rather than erasing the row: the user's runs, logs and
 * project data keep their owner id and stay visible to admins; the username, email and
 * password are erased, every session and API token is revoked, and the username can be
 * given to someone new. Deactivation (POST …/deactivate or PATCH active=false) is the
 * reversible alternative.
 */
@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly clients: ServiceClients) {}

  @Post()
  @HttpCode(201)
  @ApiErrors({ 409: 'The username is already taken' })
  create(@CurrentCaller() caller: Caller, @Body() body: CreateUserDto): Promise<UserDto> {
    return firstValueFrom(
      this.clients.auth.createUser(
        { username: body.username, email: body.email ?? '', password: body.password, level: body.level ?? '', language: body.language ?? '' },
        callMetadata(caller.authorization),
      ),
    );
  }

  @Get()
  async list(@CurrentCaller() caller: Caller, @Query() query: ListUsersQuery): Promise<UserPageDto> {
    const page = await firstValueFrom(
      this.clients.auth.listUsers({ pageSize: query.pageSize ?? 50, pageToken: query.pageToken ?? '', search: query.search ?? '' }, callMetadata(caller.authorization)),
    );
    return { items: page.users, nextPageToken: page.nextPageToken || null, total: page.totalSize };
  }

  @Get(':id')
  get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<UserDto> {
    return firstValueFrom(this.clients.auth.getUser({ id }, callMetadata(caller.authorization)));
  }

  @Patch(':id')
  @ApiErrors({ 409: 'An administrator cannot deactivate their own account nor lower their own level' })
  update(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: UpdateUserDto): Promise<UserDto> {
    return firstValueFrom(this.clients.auth.updateUser({ id, level: body.level, email: body.email, active: body.active }, callMetadata(caller.authorization)));
  }

  @Post(':id/deactivate')
  @HttpCode(200)
  @ApiErrors({ 409: 'An administrator cannot deactivate their own account' })
  deactivate(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<UserDto> {
    return firstValueFrom(this.clients.auth.updateUser({ id, active: false }, callMetadata(caller.authorization)));
  }

  @Post(':id/activate')
  @HttpCode(200)
  activate(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<UserDto> {
    return firstValueFrom(this.clients.auth.updateUser({ id, active: true }, callMetadata(caller.authorization)));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiErrors({ 409: 'An administrator cannot delete their own account' })
  async delete(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    await firstValueFrom(this.clients.auth.deleteUser({ id }, callMetadata(caller.authorization)));
  }

  /** Sets a new password, clears any login lock and signs the user out everywhere. */
  @Post(':id/password')
  @HttpCode(204)
  async resetPassword(@CurrentCaller() caller: Caller, @Param('id') id: string, @Body() body: ResetPasswordDto) {
    await firstValueFrom(this.clients.auth.resetPassword({ userId: id, newPassword: body.newPassword }, callMetadata(caller.authorization)));
  }

  /** Clears the account's failed sign-in count and login lock; answers the user and whether it was locked. */
  @Post(':id/unlock')
  @HttpCode(200)
  async unlock(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<UnlockedUserDto> {
    const response = await firstValueFrom(this.clients.auth.unlockUser({ id }, callMetadata(caller.authorization)));
    return { user: response.user!, wasLocked: response.wasLocked };
  }

  @Get(':id/tokens')
  async tokens(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: UserTokensQuery): Promise<ApiTokenListDto> {
    const response = await firstValueFrom(
      this.clients.auth.listApiTokens({ userId: id, includeInactive: query.includeInactive ?? false }, callMetadata(caller.authorization)),
    );
    return { items: response.apiTokens };
  }

  @Delete(':id/tokens/:tokenId')
  @HttpCode(204)
  async revokeToken(@CurrentCaller() caller: Caller, @Param('id') id: string, @Param('tokenId') tokenId: string) {
    const metadata = callMetadata(caller.authorization);
    const { apiTokens } = await firstValueFrom(this.clients.auth.listApiTokens({ userId: id, includeInactive: true }, metadata));
    if (!apiTokens.some((t) => t.id === tokenId)) throw new NotFoundException(`User ${id} has no API token ${tokenId}`);
    await firstValueFrom(this.clients.auth.revokeApiToken({ id: tokenId }, callMetadata(caller.authorization)));
  }
}
