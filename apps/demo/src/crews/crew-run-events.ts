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
 * shut down; `refused`: a newer run of the crew had started; `failed`: an agent step failed for
 * good, its retries exhausted, or the run ended by a timeout or an error) and whether it is part
 * of the history.
 *
 * @example
 * const event: CrewRunStreamEvent = { type: 'crew.run.failed', crewId, runId, companyId, triggeredBy, fencingToken, startedAt, status: 'aborted', recorded: true, error: 'lock lost', at: new Date() };
 */
export type CrewRunStreamEvent =
  | (Extract<CrewStreamEvent, { type: 'crew.run.started' }> & RunFacts)
  | (Extract<CrewStreamEvent, { type: 'crew.run.completed' }> & RunFacts)
  | (Extract<CrewStreamEvent, { type: 'crew.run.failed' }> & RunFacts & { status: 'aborted' | 'refused' | 'failed'; recorded: boolean });

/**
 * The library's CREW_EVENTS stream (one per company), typed with the demo's run events and trimmed
 * to about 10 000 entries: the run history is built from it into the crew store, which keeps it.
 *
 * @example
 * await streams.append(CREW_RUN_EVENTS, { type: 'crew.run.started', crewId, runId, companyId, triggeredBy, fencingToken, startedAt, at }, { tenant: companyId });
 */
export const CREW_RUN_EVENTS = defineStream<CrewRunStreamEvent>(CREW_EVENTS.name, { maxLen: 10_000 });

/**
 * What a run event of the stream means for the crew's history: the `record` of a run that ended
 * (written to the history of `crewId`), `none` for an event that records nothing (a run started,
 * a refused run, another kind of crew event), or `invalid` with the reason when the event claims
 * to end a run but lacks what its record needs (never written: no half record).
 *
 * @example
 * const projection = runRecord(entry.payload);
 * if (projection.kind === 'record') await crews.saveRun(entry.tenant, projection.crewId, projection.run);
 */
export type RunProjection =
  | { readonly kind: 'record'; readonly crewId: string; readonly run: CrewRun }
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Longest id (run, crew, user) a record takes from an event. */
const MAX_ID_LENGTH = 200;
/** An ISO 8601 time with its offset: `Date.parse` reads one without it as local time. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The history record a run event stands for: a completed run, or a failed one that is part of the
 * history (`status: 'aborted'` or `'failed'`, `recorded: true`: its token was still the newest). The stream is
 * the library's CREW_EVENTS, which any producer may append to, so the event is checked here, not
 * trusted for its type: a `crew.run.completed` or recorded `crew.run.failed` without a run id,
 * crew id, who started it, a valid start time (ISO 8601 with an offset) and end time (a Date), or
 * with a fencing token that is not a non-negative integer, is `invalid`. The same event always
 * gives the same record, so writing it twice (a redelivery) changes nothing.
 *
 * @example
 * runRecord({ type: 'crew.run.completed', runId: 'r-9', at, ... }); // { kind: 'record', crewId, run: { id: 'r-9', status: 'succeeded', finishedAt: at.toISOString(), ... } }
 */
export function runRecord(payload: unknown): RunProjection {
  if (!isObject(payload) || typeof payload.type !== 'string') return invalid('not a crew event (an object with a type)');
  const { type } = payload;
  if (type === 'crew.run.failed') {
    if (payload.recorded !== true) return { kind: 'none' }; // refused, or an abort another run superseded
    if (payload.status !== 'aborted' && payload.status !== 'failed') {
      return invalid(`a recorded crew.run.failed must be an aborted or failed run, not ${JSON.stringify(payload.status)}`);
    }
  } else if (type !== 'crew.run.completed') {
    return { kind: 'none' };
  }
  const missing = (['runId', 'crewId', 'triggeredBy'] as const).filter((field) => !isId(payload[field]));
  if (missing.length > 0) return invalid(`${type} without ${missing.join(', ')} (non-empty strings of at most ${MAX_ID_LENGTH} characters)`);
  const { startedAt, at, fencingToken } = payload;
  if (typeof startedAt !== 'string' || !ISO_TIME.test(startedAt) || Number.isNaN(Date.parse(startedAt))) return invalid(`${type} without a startedAt (ISO 8601 with an offset)`);
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) return invalid(`${type} without the time it happened (at, a Date)`);
  if (fencingToken !== undefined && !(Number.isSafeInteger(fencingToken) && (fencingToken as number) >= 0)) return invalid(`${type} with a fencingToken that is not a non-negative integer`);
  const run: CrewRun = {
    id: payload.runId as string,
    status: type === 'crew.run.completed' ? 'succeeded' : (payload.status as 'aborted' | 'failed'),
    startedAt,
    finishedAt: at.toISOString(),
    triggeredBy: payload.triggeredBy as string,
    ...(fencingToken === undefined ? {} : { fencingToken: fencingToken as number }),
  };
  return { kind: 'record', crewId: payload.crewId as string, run };
}

function invalid(reason: string): RunProjection {
  return { kind: 'invalid', reason };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}
