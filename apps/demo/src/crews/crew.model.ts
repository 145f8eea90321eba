/** One AI agent of a crew: what it is for and which model drives it. */
export interface Agent {
  id: string;
  role: string;
  goal: string;
  model: string;
}

/** How a crew runs its agents. */
export interface CrewConfig {
  process: 'sequential' | 'hierarchical';
  maxIterations: number;
  temperature: number;
}

/**
 * A finished run in a crew's history. A run is recorded when it ends, and only while its lock's
 * fencing token is the newest (see `CrewRunner`); a run in progress shows in `GET /locks`.
 */
export interface CrewRun {
  id: string;
  /** `failed`: an agent step failed for good (its retries exhausted), its steps timed out, or waiting for them failed; `aborted`: stopped when its lock was lost or its instance shut down. */
  status: 'succeeded' | 'failed' | 'aborted';
  startedAt: string;
  finishedAt?: string;
  triggeredBy: string;
  /** Fencing token of the `crew-run:<crewId>` lock the run held; absent on seeded history. */
  fencingToken?: number;
}

/** A crew of AI agents owned by one company. */
export interface Crew {
  id: string;
  companyId: string;
  name: string;
  agents: Agent[];
  config: CrewConfig;
  runs: CrewRun[];
}

/**
 * What defines a crew, without its run history: what `CrewStore` keeps (shared by every
 * instance), `CrewConfigs` caches and `PATCH /crews/:crewId` edits.
 */
export type CrewDefinition = Omit<Crew, 'runs'>;

/** Kinds of crew events clients may publish (`POST /crews/:crewId/events`), each on channel `crew.<type>`. */
export const CREW_EVENT_TYPES = ['started', 'progress', 'message', 'completed', 'failed'] as const;
export type CrewEventType = (typeof CREW_EVENT_TYPES)[number];

/**
 * Events only a crew run publishes: `crew.run.started`, `crew.run.completed`, and
 * `crew.run.failed` (`data.status`: `failed` when an agent step failed for good, `aborted`, or `refused` when a newer run of the crew had started, raising the crew's fence).
 */
export type CrewRunEventType = 'run.started' | 'run.completed' | 'run.failed';

/** Payload of a crew event on the bus. */
export interface CrewEventPayload {
  crewId: string;
  type: CrewEventType | CrewRunEventType;
  data: Record<string, unknown>;
}
