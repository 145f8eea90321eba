import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import type { CompaniesService } from '../companies/companies.service.js';
import { quoteInput } from '../http/quote-input.js';
import type { AuthUser } from './auth-user.model.js';

/**
 * The seeded user `userId` as a member of `companyId`, as `request.user` carries it: an unknown
 * user is a 401, a user of another company a 403, with the same answer for an unknown company
 * as for someone else's (no probing which companies exist). Shared by `DemoAuthGuard` (the
 * `x-user-id` header, a session) and `POST /auth/login`.
 *
 * @example
 * const user = memberOf(companies, 'u-ada', 'acme'); // { id: 'u-ada', companyId: 'acme', role: 'owner' }
 * memberOf(companies, 'u-ada', 'globex');           // throws ForbiddenException (403)
 */
export function memberOf(companies: CompaniesService, userId: string, companyId: string): AuthUser {
  const user = companies.findUser(userId);
  if (!user) throw new UnauthorizedException(`Unknown user ${quoteInput(userId)}`);
  if (user.companyId !== companyId) throw new ForbiddenException(`User "${user.id}" is not a member of company ${quoteInput(companyId)}`);
  return { id: user.id, companyId: user.companyId, role: user.role };
}
