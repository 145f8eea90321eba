import { InvalidArgumentError } from '../errors/coordination.error.js';

/** Longest channel name or pattern; names are identifiers, not payloads. */
export const MAX_CHANNEL_LENGTH = 200;

const CHANNEL = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const PATTERN = /^[a-z0-9_*-]+(?:\.[a-z0-9_*-]+)*$/;
const SEGMENT_CHARS = 'dot-separated segments of a-z, 0-9, "_" and "-" (e.g. "crew.started")';

function check(value: unknown, argument: string, allowWildcard: boolean): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${typeof value}`, value);
  if (value.length === 0) throw new InvalidArgumentError(argument, 'must not be empty', value);
  if (value.length > MAX_CHANNEL_LENGTH) {
    throw new InvalidArgumentError(argument, `must be at most ${MAX_CHANNEL_LENGTH} characters`, value);
  }
  if ((allowWildcard ? PATTERN : CHANNEL).test(value)) return value;
  const shown = JSON.stringify(value);
  if (!allowWildcard && value.includes('*')) {
    throw new InvalidArgumentError(argument, `${shown}: wildcards ("*") are only allowed in on()`, value);
  }
  if (/[?[\]\\{}:]/.test(value)) {
    throw new InvalidArgumentError(argument, `${shown} contains a glob, hash-tag or ":" character; use ${SEGMENT_CHARS}`, value);
  }
  throw new InvalidArgumentError(argument, `${shown} must be ${SEGMENT_CHARS}${allowWildcard ? ', "*" as a wildcard' : ''}`, value);
}

/**
 * Throws `InvalidArgumentError` naming `argument` unless `value` is a channel name:
 * dot-separated lowercase segments of `[a-z0-9_-]`, without wildcards.
 *
 * @example
 * assertChannelName('crew.started', 'channel'); // ok
 * assertChannelName('crew.*', 'channel');       // throws: wildcards are only allowed in on()
 */
export function assertChannelName(value: unknown, argument = 'channel'): asserts value is string {
  check(value, argument, false);
}

/**
 * Like {@link assertChannelName}, but `*` is allowed as a wildcard (any run of characters,
 * dots included, as in a Redis glob). Returns whether `value` is a pattern.
 *
 * @example
 * parseChannelPattern('crew.*', 'channelOrPattern');  // true
 * parseChannelPattern('crew.started');                // false
 */
export function parseChannelPattern(value: unknown, argument = 'channelOrPattern'): boolean {
  return check(value, argument, true).includes('*');
}
