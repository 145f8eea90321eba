import { CheckDeadlines, TIMED_OUT } from './check-deadlines.js';

/** A promise settled by hand. */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('CheckDeadlines', () => {
  it('passes through an answer that comes in time, and keeps nothing of the call', async () => {
    const deadlines = new CheckDeadlines(60_000);
    const work = deferred<string>();
    const answer = deadlines.within(work.promise);
    expect(deadlines.size).toBe(1);
    work.resolve('answer');
    await expect(answer).resolves.toBe('answer');
    expect(deadlines.size).toBe(0);
    deadlines.close();
  });

  it('passes through a failure that comes in time', async () => {
    const deadlines = new CheckDeadlines(60_000);
    const work = deferred<string>();
    const answer = deadlines.within(work.promise);
    work.reject(new Error('boom'));
    await expect(answer).rejects.toThrow('boom');
    expect(deadlines.size).toBe(0);
    deadlines.close();
  });

  it('answers TIMED_OUT for work that never settles, then ignores its late answer or failure', async () => {
    const deadlines = new CheckDeadlines(5);
    const late = deferred<string>();
    const failing = deferred<string>();
    const settled = deferred<string>();
    const answers = [deadlines.within(late.promise), deadlines.within(failing.promise), deadlines.within(settled.promise)];
    settled.resolve('in time');
    expect(await Promise.all(answers)).toEqual([TIMED_OUT, TIMED_OUT, 'in time']);
    expect(deadlines.size).toBe(0);
    // Settling afterwards changes nothing and is no unhandled rejection (Jest would fail the test).
    late.resolve('late');
    failing.reject(new Error('late failure'));
    await Promise.resolve();
    expect(deadlines.size).toBe(0);
    deadlines.close();
  });

  it('times out calls in order with one timer, and keeps answering calls that arrive meanwhile', async () => {
    const deadlines = new CheckDeadlines(5);
    const first = deadlines.within(new Promise<never>(() => undefined));
    expect(await first).toBe(TIMED_OUT);
    const second = deferred<number>();
    const answer = deadlines.within(second.promise);
    const stuck = deadlines.within(new Promise<never>(() => undefined));
    second.resolve(2);
    expect(await answer).toBe(2);
    expect(await stuck).toBe(TIMED_OUT);
    expect(deadlines.size).toBe(0);
    deadlines.close();
  });

  it('a call given an earlier deadline of its own times out first, before calls that arrived earlier', async () => {
    const deadlines = new CheckDeadlines(60_000);
    const order: string[] = [];
    const early = deadlines.within(new Promise<never>(() => undefined)).then(() => order.push('arrived first'));
    const late = deadlines.within(new Promise<never>(() => undefined), performance.now() + 5).then((a) => {
      order.push('own deadline');
      return a;
    });
    expect(await late).toBe(TIMED_OUT);
    expect(order).toEqual(['own deadline']);
    expect(deadlines.size).toBe(1);
    deadlines.close();
    await early;
    expect(order).toEqual(['own deadline', 'arrived first']);
  });

  it('close() answers every waiting call TIMED_OUT', async () => {
    const deadlines = new CheckDeadlines(60_000);
    const answers = [deadlines.within(new Promise<never>(() => undefined)), deadlines.within(new Promise<never>(() => undefined))];
    deadlines.close();
    expect(await Promise.all(answers)).toEqual([TIMED_OUT, TIMED_OUT]);
    expect(deadlines.size).toBe(0);
  });
});
