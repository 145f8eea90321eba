import { randomUUID } from 'node:crypto';
import { EnvelopeTemplate } from '../events/event-envelope.js';
import type { KeyBuilder } from '../keys/key-builder.js';
import type { Lock } from './lock.js';
import type { ScriptEvent } from './lock-store.interface.js';
import type { LockKind } from './lock.types.js';

/** Channel-name cache bound: tenants are unbounded, the cache must not be. */
const MAX_CACHED_CHANNELS = 1_000;

/**
 * The lock.acquired and lock.released events that the Redis store's acquire and release
 * scripts PUBLISH themselves, so that an event costs no round trip of its own. They are
 * ordinary EventBus messages (envelopes cut by `EnvelopeTemplate`, on the channels
 * `EventBus.publish` uses), so subscribers see no difference.
 *
 * @example
 * const events = new LockScriptEvents(core.keys, core.instanceId, () => core.clock.now());
 * const event = events.acquired('invoice:42', 'mutex', owner, tenant); // the script appends the fencing token
 */
export class LockScriptEvents {
  private readonly envelopes: EnvelopeTemplate;
  private readonly channels = new Map<string, string>();

  constructor(private readonly keys: KeyBuilder, instanceId: string, private readonly now: () => number) {
    this.envelopes = new EnvelopeTemplate(instanceId);
  }

  /**
   * lock.acquired without its fencing token: the message ends with `"fencingToken":` and the
   * script appends the token and `EnvelopeTemplate.tail` (see `publish_acquired` in lua/mutex.lua).
   */
  acquired(key: string, kind: LockKind, owner: string, tenant: string): ScriptEvent {
    return {
      channel: this.channel(tenant, 'lock.acquired'),
      message: `${this.prefix()}${describeJson(key, kind, owner)},"waitedMs":0,"contended":false,"fencingToken":`,
    };
  }

  /** The whole lock.released event, for the release script to publish when it releases. */
  released(lock: Lock): ScriptEvent {
    const heldMs = this.now() - lock.acquiredAt;
    return {
      channel: this.channel(lock.tenant, 'lock.released'),
      message: `${this.prefix()}${describeJson(lock.key, lock.kind, lock.owner)},"fencingToken":${lock.fencingToken},"heldMs":${heldMs}${this.envelopes.tail}`,
    };
  }

  private prefix(): string {
    return this.envelopes.prefix(randomUUID(), this.now());
  }

  /** The EventBus channel of `name` for `tenant` (what `EventBus.publish(name, ..., { tenant })` uses). */
  private channel(tenant: string, name: string): string {
    const id = `${tenant}\n${name}`;
    let channel = this.channels.get(id);
    if (channel === undefined) {
      if (this.channels.size >= MAX_CACHED_CHANNELS) this.channels.clear();
      channel = this.keys.channel(tenant, 'events', name);
      this.channels.set(id, channel);
    }
    return channel;
  }
}

function describeJson(key: string, kind: LockKind, owner: string): string {
  return `"key":${JSON.stringify(key)},"kind":"${kind}","owner":${JSON.stringify(owner)}`;
}
