import { Module, type DynamicModule } from '@nestjs/common';
import type { DemoConfig } from '../demo.config.js';
import { CrewConfigs } from './crew-configs.service.js';
import { CrewEventStreams, STREAMS_CONFIG } from './crew-event-streams.service.js';
import { crewEventsController } from './crew-events.controller.js';
import { CrewEventsService } from './crew-events.service.js';
import { CrewRunner } from './crew-runner.service.js';
import { CrewRunsController } from './crew-runs.controller.js';
import { CrewsController } from './crews.controller.js';
import { CrewsService } from './crews.service.js';
import { crewStoreProvider } from './redis-crew.store.js';

/**
 * Crews of AI agents: listing, reading (cached) and editing them, runs (locked, rate-limited),
 * agent calls and the crew event stream. `store` says where the crew definitions live.
 *
 * @example
 * imports: [CrewsModule.register({ streams: DEFAULT_STREAMS_CONFIG, store: { keyPrefix: 'demo-db' } })]
 */
@Module({})
export class CrewsModule {
  static register({ streams, store }: Pick<DemoConfig, 'streams' | 'store'>): DynamicModule {
    return {
      module: CrewsModule,
      controllers: [CrewsController, crewEventsController(streams.publishQuota), CrewRunsController],
      providers: [
        crewStoreProvider(store), CrewConfigs, CrewsService, CrewEventsService, CrewEventStreams, CrewRunner,
        { provide: STREAMS_CONFIG, useValue: streams },
      ],
      exports: [CrewsService, CrewEventsService],
    };
  }
}
