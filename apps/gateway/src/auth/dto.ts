import { IsString, MaxLength, MinLength } from 'class-validator';

export class LoginDto {
  @IsString({ message: 'username must be a string' })
  @MinLength(1, { message: 'username is required' })
  @MaxLength(100, { message: 'username must be at most 100 characters' })
  username: string;

  @IsString({ message: 'password must be a string' })
  @MinLength(1, { message: 'password is required' })
  @MaxLength(1000, { message: 'password must be at most 1000 characters' })
  password: string;
}

export class RefreshDto {
  @IsString({ message: 'refreshToken must be a string' })
  @MinLength(1, { message: 'refreshToken is required' })
  @MaxLength(500, { message: 'refreshToken must be at most 500 characters' })
  refreshToken: string;
}
