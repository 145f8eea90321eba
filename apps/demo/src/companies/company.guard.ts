import { Injectable, NotFoundException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { TenantRequiredError, TenantResolver } from '@nest-coordination/core';
import { CompaniesService } from './companies.service.js';

/** The request property `CompanyGuard` stores the resolved company in. */
export const COMPANY_REQUEST_KEY = 'company';

/**
 * Admits a request only with a known company in the `x-company-id` header. A missing
 * header is a 400 (`TenantRequiredError`, mapped by `CoordinationExceptionFilter`), an
 * unknown company a 404. It runs before the module's tenant interceptor, so it resolves
 * the company itself with the same `TenantResolver`.
 */
@Injectable()
export class CompanyGuard implements CanActivate {
  constructor(private readonly tenants: TenantResolver, private readonly companies: CompaniesService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Record<string, unknown>>();
    const companyId = await this.tenants.fromRequest(request);
    if (companyId === undefined) throw new TenantRequiredError(`${context.getClass().name}.${context.getHandler().name}`);
    const company = this.companies.find(companyId);
    if (!company) throw new NotFoundException(`Company "${companyId}" not found`);
    request[COMPANY_REQUEST_KEY] = company;
    return true;
  }
}
