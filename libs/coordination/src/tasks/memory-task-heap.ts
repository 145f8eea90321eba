/**
 * A binary min-heap ordered by `before`, for MemoryTaskBackend's waiting and delayed tasks:
 * O(log n) push and pop, so a flood of 10 000 tasks costs no re-sorting. Entries are removed
 * lazily: the caller marks an entry stale (its task was cancelled, or moved on) and `pop` / `peek`
 * skip the stale ones.
 *
 * @example
 * const heap = new MinHeap<{ due: number }>((a, b) => a.due < b.due, () => true);
 * heap.push({ due: 5 });
 * heap.push({ due: 1 });
 * heap.pop(); // { due: 1 }
 */
export class MinHeap<T> {
  private readonly items: T[] = [];

  /**
   * @param before whether `a` comes out before `b`
   * @param live whether an entry still counts (false: skipped and dropped)
   */
  constructor(private readonly before: (a: T, b: T) => boolean, private readonly live: (item: T) => boolean) {}

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  /** The first live entry, left in place. */
  peek(): T | undefined {
    while (this.items.length > 0 && !this.live(this.items[0])) this.removeTop();
    return this.items[0];
  }

  /** Removes and returns the first live entry. */
  pop(): T | undefined {
    const top = this.peek();
    if (top !== undefined) this.removeTop();
    return top;
  }

  private removeTop(): void {
    const items = this.items;
    const last = items.pop()!;
    if (items.length === 0) return;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < items.length && this.before(items[left], items[first])) first = left;
      if (right < items.length && this.before(items[right], items[first])) first = right;
      if (first === i) return;
      [items[i], items[first]] = [items[first], items[i]];
      i = first;
    }
  }
}
