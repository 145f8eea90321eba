import { escapeGlob, KeyBuilder } from '../keys/key-builder.js';
import type { TransportListener } from './event-transport.interface.js';
import { globToRegExp } from '../keys/glob.js';
import { MemoryEventTransport } from './memory-event.transport.js';

function recorder(): TransportListener & { received: Array<[string, string]>; errors: unknown[] } {
  const received: Array<[string, string]> = [];
  const errors: unknown[] = [];
  return { received, errors, message: (channel, message) => received.push([channel, message]), failed: (e) => errors.push(e) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('globToRegExp', () => {
  const keys = new KeyBuilder('app');

  it('matches like a Redis glob for the patterns KeyBuilder builds', () => {
    const pattern = globToRegExp(keys.channelPattern('acme', 'events', 'crew.*'));
    expect(pattern.test(keys.channel('acme', 'events', 'crew.started'))).toBe(true);
    expect(pattern.test(keys.channel('acme', 'events', 'crew.run.done'))).toBe(true);
    expect(pattern.test(keys.channel('acme', 'events', 'agent.started'))).toBe(false);
    expect(pattern.test(keys.channel('acme2', 'events', 'crew.started'))).toBe(false);
    expect(pattern.test(keys.channel('other', 'events', 'crew.started'))).toBe(false);
  });

  it('takes escaped characters and regex metacharacters literally', () => {
    expect(globToRegExp(escapeGlob('a*b?c')).test('a*b?c')).toBe(true);
    expect(globToRegExp(escapeGlob('a*b?c')).test('axxbyc')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
  });
});

describe('MemoryEventTransport', () => {
  it('delivers asynchronously, in publish order, to channel and pattern listeners', async () => {
    const transport = new MemoryEventTransport();
    const exact = recorder();
    const pattern = recorder();
    await transport.subscribe('channel', 'p:t:events:a.b', exact).ready;
    await transport.subscribe('pattern', 'p:t:events:a.*', pattern).ready;
    await transport.publish('p:t:events:a.b', '1');
    await transport.publish('p:t:events:a.c', '2');
    expect(exact.received).toEqual([]);
    await tick();
    expect(exact.received).toEqual([['p:t:events:a.b', '1']]);
    expect(pattern.received).toEqual([
      ['p:t:events:a.b', '1'],
      ['p:t:events:a.c', '2'],
    ]);
  });

  it('holds one subscription per channel until its last listener leaves', async () => {
    const transport = new MemoryEventTransport();
    const first = recorder();
    const second = recorder();
    const a = transport.subscribe('channel', 'c', first);
    const b = transport.subscribe('channel', 'c', second);
    await Promise.all([a.ready, b.ready]);
    expect(transport.activeSubscriptions).toBe(1);
    a.close();
    a.close();
    expect(transport.activeSubscriptions).toBe(1);
    await transport.publish('c', 'x');
    await tick();
    expect(first.received).toEqual([]);
    expect(second.received).toEqual([['c', 'x']]);
    b.close();
    expect(transport.activeSubscriptions).toBe(0);
    await transport.drain();
    await transport.publish('c', 'y');
    await tick();
    expect(second.received).toHaveLength(1);
  });

  it('keeps a channel subscribed when a listener rejoins right after the last one left', async () => {
    const transport = new MemoryEventTransport();
    transport.subscribe('channel', 'c', recorder()).close();
    const again = recorder();
    await transport.subscribe('channel', 'c', again).ready;
    await transport.publish('c', 'x');
    await tick();
    expect(again.received).toEqual([['c', 'x']]);
  });
});
