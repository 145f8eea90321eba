/**
 * What the handlers of the context tests record, and how a test holds one inside its critical
 * section: `hold(key)` makes the next call with `key` wait in the handler until `release(key)`.
 *
 * @example
 * const probe = new HandlerProbe();
 * probe.hold('c1');
 * const first = send('c1');           // enters and waits
 * await until(() => probe.inside('c1'), { timeoutMs: 5_000, message: 'the first call inside' });
 * probe.release('c1');
 */
export class HandlerProbe {
  /** Calls that reached the handler, by key. */
  readonly calls = new Map<string, number>();
  /** Calls inside the handler at once, now and at most. */
  active = 0;
  maxActive = 0;
  private readonly gates = new Map<string, { promise: Promise<void>; open: () => void; entered: boolean }>();

  hold(key: string): void {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gates.set(key, { promise, open, entered: false });
  }

  release(key: string): void {
    this.gates.get(key)?.open();
    this.gates.delete(key);
  }

  /** Whether a held call with `key` is inside the handler. */
  inside(key: string): boolean {
    return this.gates.get(key)?.entered === true;
  }

  count(key: string): number {
    return this.calls.get(key) ?? 0;
  }

  /** Runs one handler call: counts it, waits at a gate set for `key`, and yields a few turns so that overlapping calls would show. */
  async enter<T>(key: string, result: () => T): Promise<T> {
    this.calls.set(key, this.count(key) + 1);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      const gate = this.gates.get(key);
      if (gate) {
        gate.entered = true;
        await gate.promise;
      }
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      return result();
    } finally {
      this.active -= 1;
    }
  }

  reset(): void {
    this.calls.clear();
    this.active = 0;
    this.maxActive = 0;
  }
}
