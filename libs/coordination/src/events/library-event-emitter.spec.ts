import { CoordinationCore } from '../core/coordination-core.js';
import { resolveOptions } from '../options/resolve-options.js';
import type { EventTransport, TransportSubscription } from './event-transport.interface.js';
import { LibraryEventEmitter } from './library-event-emitter.js';

/** A transport whose publish does what `publish` says; nothing subscribes in these tests. */
function transportWith(publish: (channel: string, message: string) => Promise<void>): EventTransport {
  return {
    publish,
    subscribe: (): TransportSubscription => {
      throw new Error('not used');
    },
    activeSubscriptions: 0,
    drain: async () => undefined,
  };
}

describe('LibraryEventEmitter', () => {
  const setup = (transport: EventTransport) => {
    const core = new CoordinationCore(resolveOptions({}));
    const emitter = new LibraryEventEmitter(core, transport);
    const counted = (name: 'events_published_total' | 'events_publish_failed_total', channel: string) => core.metrics.counter(name, { channel });
    return { emitter, counted };
  };

  it('counts a transport that throws synchronously as a failed publish, and rejects with its error', async () => {
    const broken = new Error('transport broke before returning a promise');
    const { emitter, counted } = setup(transportWith(() => {
      throw broken;
    }));

    await expect(emitter.send('acme', 'sync.throw', { n: 1 })).rejects.toBe(broken);
    await expect(emitter.send('acme', 'sync.throw', { n: 2 })).rejects.toBe(broken);

    expect(counted('events_publish_failed_total', 'sync.throw')).toBe(2);
    expect(counted('events_published_total', 'sync.throw')).toBe(0);
  });

  it('counts a rejected publish as failed and an accepted one as published, under its channel', async () => {
    let fail = true;
    const { emitter, counted } = setup(transportWith(async () => {
      if (fail) throw new Error('rejected');
    }));

    await expect(emitter.send('acme', 'async.outcome', {})).rejects.toThrow('rejected');
    fail = false;
    await emitter.send('acme', 'async.outcome', {});
    await emitter.send('other', 'async.outcome', {});

    expect(counted('events_publish_failed_total', 'async.outcome')).toBe(1);
    expect(counted('events_published_total', 'async.outcome')).toBe(2);
  });

  it('rejects without counting a publish when nothing reached the transport (bad tenant or payload)', async () => {
    const sent: string[] = [];
    const { emitter, counted } = setup(transportWith(async (channel) => void sent.push(channel)));

    await expect(emitter.send('bad:tenant', 'not.sent', {})).rejects.toThrow();
    await expect(emitter.send('acme', 'not.sent', { f: () => 1 })).rejects.toThrow();

    expect(sent).toEqual([]);
    expect(counted('events_publish_failed_total', 'not.sent')).toBe(0);
    expect(counted('events_published_total', 'not.sent')).toBe(0);
  });
});
