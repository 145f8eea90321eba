import { decodeEnvelope, encodeEnvelope, EnvelopeTemplate } from '../events/event-envelope.js';
import { KeyBuilder } from '../keys/key-builder.js';
import { Serializer } from '../serialization/serializer.js';
import { LockScriptEvents } from './lock-script-events.js';
import type { Lock } from './lock.js';

describe('LockScriptEvents', () => {
  const serializer = new Serializer();
  const keys = new KeyBuilder('coord');
  const now = 1_700_000_000_123;
  const events = new LockScriptEvents(keys, 'node "7"', () => now);
  /** What publish_acquired in lua/mutex.lua sends: the message, the fencing token, then the envelope's tail. */
  const completedByScript = (message: string, fencingToken: number) => message + fencingToken + new EnvelopeTemplate('any').tail;

  it('builds lock.acquired that, once the acquire script appends the token, is byte for byte what EventBus.publish encodes', () => {
    const event = events.acquired('invoice:"42"', 'mutex', 'worker|1', 'acme');
    expect(event.channel).toBe(keys.channel('acme', 'events', 'lock.acquired'));
    const message = completedByScript(event.message, 17);
    const sent = decodeEnvelope(serializer, message);
    const payload = { key: 'invoice:"42"', kind: 'mutex', owner: 'worker|1', waitedMs: 0, contended: false, fencingToken: 17 };
    expect(message).toBe(encodeEnvelope(serializer, { i: sent.i, t: now, s: 'node "7"', p: payload }));
    expect(sent).toEqual({ i: expect.stringMatching(/^[0-9a-f-]{36}$/), t: now, s: 'node "7"', p: payload });
  });

  it('builds the whole lock.released message', () => {
    const lock = { key: 'k', kind: 'permit', owner: 'o', tenant: 'acme', fencingToken: 9, acquiredAt: now - 250 } as Lock;
    const event = events.released(lock);
    expect(event.channel).toBe(keys.channel('acme', 'events', 'lock.released'));
    const sent = decodeEnvelope(serializer, event.message);
    const payload = { key: 'k', kind: 'permit', owner: 'o', fencingToken: 9, heldMs: 250 };
    expect(event.message).toBe(encodeEnvelope(serializer, { i: sent.i, t: now, s: 'node "7"', p: payload }));
  });

  it('gives each event its own id', () => {
    const ids = [events.acquired('k', 'mutex', 'o', 'acme'), events.acquired('k', 'mutex', 'o', 'acme')]
      .map((e) => decodeEnvelope(serializer, completedByScript(e.message, 1)).i);
    expect(ids[0]).not.toBe(ids[1]);
  });
});
