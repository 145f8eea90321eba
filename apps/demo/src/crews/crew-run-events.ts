import { CREW_EVENTS, defineStream, type CrewStreamEvent } from '@nest-coordination/core';
import type { CrewRun } from './crew.model.js';

/** What every run event of the demo carries besides the library's fields. */
interface RunFacts {
  companyId: string;
  triggeredBy: string;
  /** Fencing token of the `crew-run:<crewId>` lock the run held. */
  fencingToken: number;
  /** ISO time the run started. */
  startedAt: string;
}

/**
 * The library's `crew.run.*` events as the demo's runs append them: with who started the run and
 * its fencing token, and for `crew.run.failed` why (`aborted`: its lock was lost or its instance
 * shut down; `refused`: a newer run of the crew had started) and whether it is part of the history.
 *
 * @example
 * const event: CrewRunStreamEvent = { type: 'crew.run.failed', crewId, runId, companyId, triggeredBy, fencingToken, startedAt, status: 'aborted', recorded: true, error: 'lock lost', at: new Date() };
 */
export type CrewRunStreamEvent =
  | (Extract<CrewStreamEvent, { type: 'crew.run.started' }> & RunFacts)
  | (Extract<CrewStreamEvent, { type: 'crew.run.completed' }> & RunFacts)
  | (Extract<CrewStreamEvent, { type: 'crew.run.failed' }> & RunFacts & { status: 'aborted' | 'refused'; recorded: boolean });

/**
 * The library's CREW_EVENTS stream (one per company), typed with the demo's run events and trimmed
 * to about 10 000 entries: the run history is built from it into the crew store, which keeps it.
 *
 * @example
 * await streams.append(CREW_RUN_EVENTS, { type: 'crew.run.started', crewId, runId, companyId, triggeredBy, fencingToken, startedAt, at }, { tenant: companyId });
 */
export const CREW_RUN_EVENTS = defineStream<CrewRunStreamEvent>(CREW_EVENTS.name, { maxLen: 10_000 });

/**
 * The history record a run event stands for: a completed run, or a failed one that is part of the
 * history (aborted, its token still the newest); undefined for the others (started, refused). The
 * same event always gives the same record, so writing it twice (a redelivery) changes nothing.
 *
 * @example
 * runRecord({ type: 'crew.run.completed', runId: 'r-9', at, ... }); // { id: 'r-9', status: 'succeeded', finishedAt: at.toISOString(), ... }
 */
export function runRecord(event: CrewRunStreamEvent): CrewRun | undefined {
  const record = { id: event.runId, startedAt: event.startedAt, finishedAt: event.at.toISOString(), triggeredBy: event.triggeredBy, fencingToken: event.fencingToken };
  if (event.type === 'crew.run.completed') return { ...record, status: 'succeeded' };
  if (event.type === 'crew.run.failed' && event.recorded) return { ...record, status: event.status === 'aborted' ? 'aborted' : 'failed' };
  return undefined;
}
