import { Module } from '@nestjs/common';
import { CrewEventsService } from './crew-events.service.js';
import { CrewRunner } from './crew-runner.service.js';
import { CrewRunsController } from './crew-runs.controller.js';
import { CrewsController } from './crews.controller.js';
import { CrewsService } from './crews.service.js';

/** Crews of AI agents: listing, runs (locked, rate-limited), agent calls and the crew event stream. */
@Module({
  controllers: [CrewsController, CrewRunsController],
  providers: [CrewsService, CrewEventsService, CrewRunner],
  exports: [CrewsService, CrewEventsService],
})
export class CrewsModule {}
