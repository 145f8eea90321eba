import { ErrorCode, InvalidArgumentError } from '../errors/coordination.error.js';
import { assertChannelName, MAX_CHANNEL_LENGTH, parseChannelPattern } from './channel-name.js';

function rejection(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    return error as InvalidArgumentError;
  }
  throw new Error('expected a throw');
}

describe('channel names', () => {
  it.each(['crew', 'crew.started', 'lock.acquired', 'a-b_c.0.x9', 'ratelimit.violation'])('accepts %s', (name) => {
    expect(() => assertChannelName(name)).not.toThrow();
    expect(parseChannelPattern(name)).toBe(false);
  });

  it.each([
    ['', 'must not be empty'],
    ['crew.*', 'only allowed in on()'],
    ['crew:started', '":"'],
    ['crew.{x}', 'hash-tag'],
    ['crew.?', 'glob'],
    ['crew.[ab]', 'glob'],
    ['crew\\x', 'glob'],
    ['Crew.Started', 'dot-separated'],
    ['crew..started', 'dot-separated'],
    ['.crew', 'dot-separated'],
    ['crew.', 'dot-separated'],
    ['crew started', 'dot-separated'],
    ['crew\n', 'dot-separated'],
    ['x'.repeat(MAX_CHANNEL_LENGTH + 1), `at most ${MAX_CHANNEL_LENGTH}`],
  ])('rejects %j with a typed error naming the argument', (name, reason) => {
    const error = rejection(() => assertChannelName(name, 'channel'));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.argument).toBe('channel');
    expect(error.message).toContain(reason);
  });

  it('rejects non-strings', () => {
    expect(rejection(() => assertChannelName(42, 'channel')).message).toContain('must be a string');
  });
});

describe('channel patterns', () => {
  it.each(['*', 'crew.*', '*.started', 'crew.run-*', 'crew.*.done'])('accepts %s as a pattern', (pattern) => {
    expect(parseChannelPattern(pattern)).toBe(true);
  });

  it.each(['crew.?', 'crew.[a]', 'crew.{a}', 'crew:*', 'crew.\\*', '', 'CREW.*'])('rejects %j', (pattern) => {
    const error = rejection(() => parseChannelPattern(pattern, 'channelOrPattern'));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.argument).toBe('channelOrPattern');
  });
});
