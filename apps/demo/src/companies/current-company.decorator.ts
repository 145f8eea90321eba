import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { COMPANY_REQUEST_KEY } from './company.guard.js';
import type { Company } from './company.model.js';

/**
 * The company `CompanyGuard` resolved for this request.
 *
 * @example
 * @UseGuards(CompanyGuard)
 * @Get()
 * list(@CurrentCompany() company: Company) { ... }
 */
export const CurrentCompany = createParamDecorator((_data: unknown, context: ExecutionContext): Company => {
  return context.switchToHttp().getRequest<Record<string, Company>>()[COMPANY_REQUEST_KEY];
});
