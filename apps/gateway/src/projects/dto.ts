import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

const GROUP_ID = /^(\.code-sessions|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;
const GROUP_MESSAGE = 'groupId must be a script group id such as "examples" (or ".code-sessions")';
const toBoolean = ({ value }: { value: unknown }) => value === true || value === 'true' || value === '1';

export class CreateProjectDto {
  @Matches(GROUP_ID, { message: GROUP_MESSAGE })
  groupId: string;

  @IsString({ message: 'name must be a string' })
  @MinLength(1, { message: 'name is required' })
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  name: string;
}

export class RenameProjectDto {
  @IsString({ message: 'name must be a string' })
  @MinLength(1, { message: 'name is required' })
  @MaxLength(100, { message: 'name must be at most 100 characters' })
  name: string;
}

export class ListProjectsQuery {
  @IsOptional() @Matches(GROUP_ID, { message: GROUP_MESSAGE })
  groupId?: string;

  @IsOptional() @IsString() @MaxLength(100)
  userId?: string;
}

export class ActiveProjectQuery {
  @Matches(GROUP_ID, { message: GROUP_MESSAGE })
  groupId: string;
}

export class SetActiveProjectDto {
  @Matches(GROUP_ID, { message: GROUP_MESSAGE })
  groupId: string;

  @Matches(/^([0-9a-f-]{36}|default)$/i, { message: 'projectId must be a project id (or "default")' })
  projectId: string;
}

export class FilesQuery {
  @IsOptional() @Transform(toBoolean) @IsBoolean({ message: 'recursive must be true or false' })
  recursive?: boolean;
}
