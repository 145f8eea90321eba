import { Module, type DynamicModule } from '@nestjs/common';
import type { StreamsConfig } from '../demo.config.js';
import { CrewEventStreams, STREAMS_CONFIG } from './crew-event-streams.service.js';
import { crewEventsController } from './crew-events.controller.js';
import { CrewEventsService } from './crew-events.service.js';
import { CrewRunner } from './crew-runner.service.js';
import { CrewRunsController } from './crew-runs.controller.js';
import { CrewsController } from './crews.controller.js';
import { CrewsService } from './crews.service.js';

/**
 * Crews of AI agents: listing, runs (locked, rate-limited), agent calls and the crew event stream.
 *
 * @example
 * imports: [CrewsModule.register(DEFAULT_STREAMS_CONFIG)]
 */
@Module({})
export class CrewsModule {
  static register(streams: StreamsConfig): DynamicModule {
    return {
      module: CrewsModule,
      controllers: [CrewsController, crewEventsController(streams.publishQuota), CrewRunsController],
      providers: [CrewsService, CrewEventsService, CrewEventStreams, CrewRunner, { provide: STREAMS_CONFIG, useValue: streams }],
      exports: [CrewsService, CrewEventsService],
    };
  }
}
