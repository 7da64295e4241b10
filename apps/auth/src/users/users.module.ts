import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BootstrapAdminService } from './bootstrap-admin.service.js';
import { LoginLocks } from './login-locks.repository.js';
import { UserRecord } from './user.entity.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([UserRecord])],
  providers: [UsersRepository, UsersService, BootstrapAdminService, LoginLocks],
  exports: [UsersService, BootstrapAdminService, LoginLocks],
})
export class UsersModule {}
