import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { StreamService, type StreamEntry } from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';
import type { RunHistoryConfig } from '../demo.config.js';
import { CREW_RUN_EVENTS, runRecord } from './crew-run-events.js';
import { CrewsService } from './crews.service.js';

/**
 * Injection token of the demo's `RunHistoryConfig`.
 *
 * @example
 * providers: [{ provide: RUN_HISTORY_CONFIG, useValue: config.runHistory }, CrewRunHistory]
 */
export const RUN_HISTORY_CONFIG = Symbol('RUN_HISTORY_CONFIG');

/**
 * The consumer group that writes crew run histories. One group for the whole fleet: each run
 * event is handled by one instance (at least once), and every instance reads the history it
 * wrote from the shared crew store.
 *
 * @example
 * const history = (await streams.groups(CREW_RUN_EVENTS, { tenant: 'acme' })).find((g) => g.group === RUN_HISTORY_GROUP); // its lag
 */
export const RUN_HISTORY_GROUP = 'crew-run-history';

/**
 * Builds every crew's run history from the run events of its company's crew event stream: a
 * consumer of the `crew-run-history` group per company (a stream belongs to one tenant), started
 * at bootstrap and stopped by StreamService at shutdown. Each consumer is named after the
 * instance (`COORD_INSTANCE_ID`), so a replica restarted under its name handles what it left
 * pending first. A completed run, or an aborted one that was still the newest, is written to the
 * crew store (`CrewsService.saveRun`: one record per run id, so a redelivered event is harmless).
 * An event that lacks what a run record needs (`runRecord`) is skipped with a warning and
 * acknowledged: retrying it would not make it whole. A failed write leaves the event pending, and
 * it is delivered again after `claimIdleMs`; after `RunHistoryConfig.maxDeliveries` deliveries
 * it is set aside in the stream's dead letters (`GET /crews/runs/dead-letters`), from which an
 * owner replays it once the store is back. A new group starts from the earliest event still in
 * the stream.
 *
 * @example
 * await app.get(CrewRunHistory).project(entry); // what the consumer does with each entry
 */
@Injectable()
export class CrewRunHistory implements OnApplicationBootstrap {
  private readonly logger = new Logger('CrewRunHistory');

  constructor(
    private readonly streams: StreamService,
    private readonly companies: CompaniesService,
    private readonly crews: CrewsService,
    @Inject(RUN_HISTORY_CONFIG) private readonly config: RunHistoryConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { maxDeliveries } = this.config;
    await Promise.all(
      this.companies.list().map((company) =>
        this.streams.consume(CREW_RUN_EVENTS, RUN_HISTORY_GROUP, (entry) => this.project(entry), { tenant: company.id, maxDeliveries }),
      ),
    );
  }

  /** Writes the run record `entry` stands for, if any, to the history of its crew in the entry's company. */
  async project(entry: StreamEntry<unknown>): Promise<void> {
    const projection = runRecord(entry.payload);
    if (projection.kind === 'invalid') {
      this.logger.warn(`Skipped entry ${entry.id} of stream "${entry.stream}" (company ${entry.tenant}): ${projection.reason}`);
    } else if (projection.kind === 'record') {
      await this.crews.saveRun(entry.tenant, projection.crewId, projection.run);
    }
  }
}
