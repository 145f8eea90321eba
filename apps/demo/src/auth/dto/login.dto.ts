import { IsString, MaxLength, MinLength } from 'class-validator';

/**
 * Body of `POST /auth/login`: a seeded user and their company. No password: see AuthController.login.
 *
 * @example
 * { "userId": "u-ada", "companyId": "acme" }
 */
export class LoginDto {
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  userId!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(128)
  companyId!: string;
}
