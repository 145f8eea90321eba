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

export interface CrewRun {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt?: string;
  triggeredBy: string;
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

/** Kinds of crew events the demo publishes, each on channel `crew.<type>`. */
export const CREW_EVENT_TYPES = ['started', 'progress', 'message', 'completed', 'failed'] as const;
export type CrewEventType = (typeof CREW_EVENT_TYPES)[number];

/** Payload of a crew event on the bus. */
export interface CrewEventPayload {
  crewId: string;
  type: CrewEventType;
  data: Record<string, unknown>;
}
