import { Module } from '@nestjs/common';
import { CompaniesModule } from '../companies/companies.module.js';
import { CrewEventsService } from './crew-events.service.js';
import { CrewsController } from './crews.controller.js';
import { CrewsService } from './crews.service.js';

@Module({
  imports: [CompaniesModule],
  controllers: [CrewsController],
  providers: [CrewsService, CrewEventsService],
  exports: [CrewsService, CrewEventsService],
})
export class CrewsModule {}
