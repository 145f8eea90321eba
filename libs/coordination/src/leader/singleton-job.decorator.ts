import type { SingletonJobOptions } from './leader.types.js';

/** STUB (lead): replaced by the jobs helper. */
export function SingletonJob(_name: string, _options: SingletonJobOptions = {}): MethodDecorator {
  return () => undefined;
}
