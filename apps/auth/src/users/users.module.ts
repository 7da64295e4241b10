import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BootstrapAdminService } from './bootstrap-admin.service.js';
import { UserRecord } from './user.entity.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([UserRecord])],
  providers: [UsersService, BootstrapAdminService],
  exports: [UsersService, BootstrapAdminService],
})
export class UsersModule {}
