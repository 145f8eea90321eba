import type { User } from '../companies/company.model.js';

/** Who is calling: what `DemoAuthGuard` puts on `request.user` (and `RateLimitGuard` counts `user` rules by). */
export type AuthUser = Pick<User, 'id' | 'companyId' | 'role'>;
