/**
 * Matches each op to its own delivery by sequence number: with many sends in flight (publishes,
 * appends), an op ends when *its* message or entry arrives, not the next one.
 *
 * @example
 * const arrivals = new Arrivals();
 * const arrived = arrivals.expect(i);
 * await bus.publish(CHANNEL, { i }); // the subscriber calls arrivals.arrived(event.payload.i)
 * await arrived;
 */
export class Arrivals {
  private readonly waiting = new Map<number, () => void>();

  /** Resolves when `arrived(i)` is called. */
  expect(i: number): Promise<void> {
    return new Promise((resolve) => this.waiting.set(i, resolve));
  }

  arrived(i: number): void {
    const resolve = this.waiting.get(i);
    this.waiting.delete(i);
    resolve?.();
  }
}
