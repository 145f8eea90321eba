import { InvalidArgumentError, InvalidOptionsError } from '../errors/coordination.error.js';
import type { CoreModuleOptions } from '../options/core-options.interface.js';
import { resolveOptions } from '../options/resolve-options.js';
import { consumerSettings } from './stream-validation.js';
import { CONSUMER_LIMITS, StreamOptionsSchema, resolveStreamOptions, type ResolvedStreamOptions, type StreamModuleOptions } from './stream.options.js';

const SECTION = { key: 'streams', schema: StreamOptionsSchema, resolve: resolveStreamOptions };
const resolveStreams = (streams: StreamModuleOptions): ResolvedStreamOptions =>
  resolveOptions({ streams } as CoreModuleOptions, [SECTION]).sections.streams as ResolvedStreamOptions;

describe('streams options', () => {
  // Renewals run every claimIdleMs / 3: below 1 s, an event-loop stall of some 70-100 ms lets
  // another live consumer's idle claim take an entry whose handler still runs.
  it('refuses a claimIdleMs below 1 s, as module default and per consumer (CONSUMER_LIMITS)', () => {
    expect(CONSUMER_LIMITS.claimIdleMs.min).toBe(1_000);
    expect(() => resolveStreams({ consumerDefaults: { claimIdleMs: 999 } })).toThrow(InvalidOptionsError);
    expect(() => resolveStreams({ consumerDefaults: { claimIdleMs: 999 } })).toThrow(/streams\.consumerDefaults\.claimIdleMs/);
    const defaults = resolveStreams({ consumerDefaults: { claimIdleMs: 1_000 } }).consumerDefaults;
    expect(defaults.claimIdleMs).toBe(1_000);
    expect(() => consumerSettings({ claimIdleMs: 999 }, defaults)).toThrow(InvalidArgumentError);
    expect(consumerSettings({ claimIdleMs: 1_000 }, defaults).claimIdleMs).toBe(1_000);
  });
});
