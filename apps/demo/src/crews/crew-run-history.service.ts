import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { StreamService, type StreamEntry } from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';
import { CREW_RUN_EVENTS, runRecord, type CrewRunStreamEvent } from './crew-run-events.js';
import { CrewsService } from './crews.service.js';

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
 * at bootstrap and stopped by StreamService at shutdown. A completed run, or an aborted one that
 * was still the newest, is written to the crew store (`CrewsService.saveRun`, idempotent, so a
 * redelivered event is harmless); a failed write leaves the event pending, and it is delivered
 * again. A new group starts from the earliest event still in the stream.
 *
 * @example
 * await app.get(CrewRunHistory).project(entry); // what the consumer does with each entry
 */
@Injectable()
export class CrewRunHistory implements OnApplicationBootstrap {
  constructor(private readonly streams: StreamService, private readonly companies: CompaniesService, private readonly crews: CrewsService) {}

  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(
      this.companies.list().map((company) =>
        this.streams.consume(CREW_RUN_EVENTS, RUN_HISTORY_GROUP, (entry) => this.project(entry), { tenant: company.id }),
      ),
    );
  }

  /** Writes the run record `entry` stands for, if any, to the history of its crew in the entry's company. */
  async project(entry: StreamEntry<CrewRunStreamEvent>): Promise<void> {
    const run = runRecord(entry.payload);
    if (run) await this.crews.saveRun(entry.tenant, entry.payload.crewId, run);
  }
}
