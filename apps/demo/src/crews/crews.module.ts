import { Module, type DynamicModule } from '@nestjs/common';
import { CompaniesModule } from '../companies/companies.module.js';
import type { DemoConfig } from '../demo.config.js';
import { CrewConfigs } from './crew-configs.service.js';
import { CrewEventStreams, STREAMS_CONFIG } from './crew-event-streams.service.js';
import { crewEventsController } from './crew-events.controller.js';
import { CrewEventsService } from './crew-events.service.js';
import { CrewRunDeadLettersController } from './crew-run-dead-letters.controller.js';
import { CrewRunHistory, RUN_HISTORY_CONFIG } from './crew-run-history.service.js';
import { AgentStepWorker } from './agent-step.worker.js';
import { CREW_RUNS_CONFIG, CrewRunSteps } from './crew-run-steps.js';
import { CrewRunner } from './crew-runner.service.js';
import { CrewRunsController } from './crew-runs.controller.js';
import { CrewsController } from './crews.controller.js';
import { CrewsService } from './crews.service.js';
import { CrewEventsGateway } from './crew-events.gateway.js';
import { CrewRunsResolver } from './graphql/crew-runs.resolver.js';
import { crewStoreProvider } from './redis-crew.store.js';

/**
 * Crews of AI agents: listing, reading (cached) and editing them, runs (locked, rate-limited; their
 * agent steps are tasks, run by `AgentStepWorker` on any instance) and
 * their history (built from the durable crew event stream), agent calls and the crew event
 * stream, and the run events the history could not write (dead letters); the history and runs
 * over GraphQL (CrewRunsResolver) and crew events over socket.io (CrewEventsGateway). `store` says where
 * the crews and their run history live.
 *
 * @example
 * imports: [CrewsModule.register({ streams: DEFAULT_STREAMS_CONFIG, store: { keyPrefix: 'demo-db' }, runHistory: DEFAULT_RUN_HISTORY_CONFIG, runs: { stepsTimeoutMs: DEFAULT_RUN_STEPS_TIMEOUT_MS } })]
 */
@Module({})
export class CrewsModule {
  static register({ streams, store, runHistory, runs }: Pick<DemoConfig, 'streams' | 'store' | 'runHistory' | 'runs'>): DynamicModule {
    return {
      module: CrewsModule,
      imports: [CompaniesModule],
      controllers: [CrewsController, crewEventsController(streams.publishQuota), CrewRunsController, CrewRunDeadLettersController],
      providers: [
        crewStoreProvider(store), CrewConfigs, CrewsService, CrewEventsService, CrewEventStreams, CrewRunner, CrewRunSteps, AgentStepWorker, CrewRunHistory,
        // GraphQL (`crewRuns`, `runCrew`) and socket.io (`/crews`: `crew.subscribe`): the same crews, limits and locks.
        CrewRunsResolver, CrewEventsGateway,
        { provide: STREAMS_CONFIG, useValue: streams },
        { provide: RUN_HISTORY_CONFIG, useValue: runHistory },
        { provide: CREW_RUNS_CONFIG, useValue: runs },
      ],
      exports: [CrewsService, CrewEventsService],
    };
  }
}
