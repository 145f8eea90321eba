import { InvalidArgumentError } from '@nest-coordination/core';
import { quoteInput } from '../http/quote-input.js';
import type { CrewDefinition } from './crew.model.js';
import type { UpdateCrewDto } from './dto/update-crew.dto.js';

/**
 * Refuses a PATCH body that changes nothing (none of `name`, `agents`, `config`): 400
 * `E_INVALID_ARGUMENT` naming `body`, before anything is read or locked.
 *
 * @example
 * checkCrewPatch({}); // InvalidArgumentError: body names none of name, agents, config
 */
export function checkCrewPatch(patch: UpdateCrewDto): void {
  if (patch.name === undefined && patch.agents === undefined && patch.config === undefined) {
    throw new InvalidArgumentError('body', 'names none of name, agents, config');
  }
}

/**
 * The crew with `patch` applied (a new object; `crew` is left as it is). An agent the crew does
 * not have, or named twice, is a 400 `E_INVALID_ARGUMENT` naming it (`agents.1.id`).
 *
 * @example
 * applyCrewPatch(crew, { name: 'Market research (EU)', agents: [{ id: 'a-1', model: 'gpt-4o' }] });
 */
export function applyCrewPatch(crew: CrewDefinition, patch: UpdateCrewDto): CrewDefinition {
  const agents = crew.agents.map((agent) => ({ ...agent }));
  const seen = new Set<string>();
  patch.agents?.forEach(({ id, ...settings }, i) => {
    const agent = agents.find((a) => a.id === id);
    if (!agent) throw new InvalidArgumentError(`agents.${i}.id`, `agent ${quoteInput(id)} is not in crew "${crew.id}"`);
    if (seen.has(id)) throw new InvalidArgumentError(`agents.${i}.id`, `agent ${quoteInput(id)} is named twice`);
    seen.add(id);
    Object.assign(agent, definedOnly(settings));
  });
  return {
    ...crew,
    name: patch.name ?? crew.name,
    agents,
    config: { ...crew.config, ...definedOnly({ ...patch.config }) },
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
