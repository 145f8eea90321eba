import { Module } from '@nestjs/common';
import { CompaniesService } from './companies.service.js';
import { CompanyGuard } from './company.guard.js';

@Module({
  providers: [CompaniesService, CompanyGuard],
  exports: [CompaniesService, CompanyGuard],
})
export class CompaniesModule {}
