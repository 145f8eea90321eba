import { EventEmitter } from 'node:events';
import { nextEvent, rejectionOf, until } from './wait.js';

/** The waiting helpers themselves: a helper that gives up must say so, never return as if it had succeeded. */
describe('test/support/wait', () => {
  it('until resolves with the first truthy value of the condition', async () => {
    let calls = 0;
    const value = await until(() => (++calls === 3 ? { calls } : undefined), { timeoutMs: 5_000, intervalMs: 1, message: 'three calls' });
    expect(value).toEqual({ calls: 3 });
  });

  it('until fails with the message when the condition never holds', async () => {
    let seen = 0;
    const error = await rejectionOf(until(() => (seen++, false), { timeoutMs: 50, intervalMs: 5, message: () => `a miracle (checked ${seen} times)` }));
    expect(String(error)).toMatch(/^Error: timed out after 50 ms waiting for a miracle \(checked \d+ times\)$/);
    expect(seen).toBeGreaterThan(1);
  });

  it('until fails on time when a single check hangs', async () => {
    const error = await rejectionOf(until(() => new Promise<boolean>(() => undefined), { timeoutMs: 50, message: 'a hung probe' }));
    expect(String(error)).toBe('Error: timed out after 50 ms waiting for a hung probe');
  });

  it('until fails at once with the error a check throws', async () => {
    const error = await rejectionOf(until(() => { throw new Error('probe broke'); }, { timeoutMs: 5_000, message: 'never' }));
    expect(String(error)).toBe('Error: probe broke');
  });

  it('nextEvent resolves with the arguments of the event, from an EventEmitter or an EventTarget', async () => {
    const emitter = new EventEmitter();
    const fromEmitter = nextEvent(emitter, 'ready', { timeoutMs: 5_000, message: 'ready' });
    emitter.emit('ready', 1, 'two');
    expect(await fromEmitter).toEqual([1, 'two']);

    const controller = new AbortController();
    const aborted = nextEvent(controller.signal, 'abort', { timeoutMs: 5_000, message: 'abort' });
    controller.abort();
    expect(await aborted).toHaveLength(1);
    expect(emitter.listenerCount('ready')).toBe(0);
  });

  it('nextEvent fails with the message when the event does not come, and leaves no listener behind', async () => {
    const emitter = new EventEmitter();
    const error = await rejectionOf(nextEvent(emitter, 'ready', { timeoutMs: 20, message: 'a ready event' }));
    expect(String(error)).toBe('Error: timed out after 20 ms waiting for a ready event');
    expect(emitter.listenerCount('ready')).toBe(0);
  });
});
