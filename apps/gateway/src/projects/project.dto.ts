import { ApiProperty } from '@nestjs/swagger';

export class ProjectDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) userId: string;
  groupId: string;
  name: string;
  /** The project created on first use; it cannot be deleted. */
  isDefault: boolean;
  /** Whether this is its owner's active project in its group. */
  isActive: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

export class ProjectListDto {
  items: ProjectDto[];
}

export class ProjectFileEntryDto {
  /** Relative to the project's data directory, "/"-separated. */
  path: string;
  name: string;
  @ApiProperty({ enum: ['file', 'directory', 'symlink'] }) type: string;
  /** Bytes. */
  @ApiProperty({ type: 'integer' }) size: number;
  @ApiProperty({ format: 'date-time' }) modifiedAt: string;
}

export class ProjectFolderDto {
  /** The folder listed, relative ("" = the data directory). */
  path: string;
  items: ProjectFileEntryDto[];
  /** The largest file an upload may be, in bytes. */
  @ApiProperty({ type: 'integer' }) maxFileBytes: number;
}
