import { Controller, Get, NotFoundException } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { CompaniesService } from './companies.service.js';
import type { CompanyProfile } from './company.model.js';

/** `GET /company`: the caller's company and its members, read through the cache (`CompaniesService.profile`). */
@Controller('company')
export class CompanyController {
  constructor(private readonly companies: CompaniesService) {}

  @Get()
  async profile(@CurrentUser() user: AuthUser): Promise<CompanyProfile> {
    const profile = await this.companies.profile(user.companyId);
    if (!profile) throw new NotFoundException(`Company "${user.companyId}" not found`);
    return profile;
  }
}
