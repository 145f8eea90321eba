/**
 * The invariant checks of `npm run scale`, pure arithmetic over what the workers recorded:
 * overlapping lock holders, fenced writes that should have been refused (or accepted), and the
 * most admissions the exact sliding window let through in any window.
 *
 * Times of holds and writes are on the machine's CLOCK_MONOTONIC (`process.hrtime`), which every
 * process of one host shares, in µs since the run's origin: comparable across the worker
 * processes, and never stepped by NTP. A holder takes `start` after its acquire call returned
 * and `end` before it sends the release, so its [start, end] lies inside the time Redis saw it
 * hold the lock: if Redis ran A's release before B's acquire, A's end < B's start. Two measured
 * intervals of one lock can overlap only if the lock really let two holders in.
 */

/** One acquisition as its holder saw it. */
export interface Hold {
  lock: number;
  token: number;
  /** µs on the shared monotonic clock: after acquire() returned. */
  start: number;
  /** µs: before release() was sent. */
  end: number;
  /**
   * The release found the lock no longer held (LockLostError). That is right only if the lease
   * expired under a holder that stalled past its TTL; the same error follows a wrongful takeover.
   */
  lost?: boolean;
  /** µs: when acquire() was called. The lease Redis granted cannot end before `called + ttlMs`. */
  called?: number;
  /** The TTL the lock was acquired with, ms. */
  ttlMs?: number;
}

/**
 * Until when (µs) a hold excludes every other holder: its end, or for a hold that lost its lock,
 * the earliest moment its lease could have expired (acquire called + TTL) if that comes first.
 * A lost hold with no acquire time or TTL recorded is not excused at all.
 */
function exclusiveUntil(hold: Hold): number {
  if (!hold.lost || hold.called === undefined || hold.ttlMs === undefined) return hold.end;
  return Math.min(hold.end, hold.called + hold.ttlMs * 1_000);
}

/** A hold that began while another hold of the same lock, with a different token, had not ended. */
export interface Overlap {
  lock: number;
  /** Token of the hold still running (the one that ends last among those before). */
  earlier: number;
  /** Token of the hold that began inside it. */
  later: number;
  /**
   * Every earlier hold it overlaps had lost its lock, and this hold began no sooner than that lease
   * could have expired (acquire called + TTL): the lock expired under a stalled holder and was
   * granted again, as a TTL lock must. Only fencing protects the resource then. False: the lock let
   * a second holder in while the first's lease still ran, a mutual exclusion failure.
   */
  afterLoss: boolean;
}

/**
 * Every hold that starts before an earlier-starting hold of the same lock has ended. Holds are
 * swept by start time, keeping the one that ends last so far (among all holds), and the one whose
 * exclusion lasts longest (`exclusiveUntil`): a hold overlapping any earlier one overlaps that one
 * too, so each overlapping hold is reported once.
 */
export function findOverlaps(holds: readonly Hold[]): Overlap[] {
  const overlaps: Overlap[] = [];
  for (const group of byLock(holds).values()) {
    group.sort((a, b) => a.start - b.start);
    let open: Hold | undefined;
    let openHeld: Hold | undefined;
    for (const hold of group) {
      if (openHeld && hold.start < exclusiveUntil(openHeld) && hold.token !== openHeld.token) {
        overlaps.push({ lock: hold.lock, earlier: openHeld.token, later: hold.token, afterLoss: false });
      } else if (open && hold.start < open.end && hold.token !== open.token) {
        overlaps.push({ lock: hold.lock, earlier: open.token, later: hold.token, afterLoss: true });
      }
      if (!open || hold.end > open.end) open = hold;
      if (!openHeld || exclusiveUntil(hold) > exclusiveUntil(openHeld)) openHeld = hold;
    }
  }
  return overlaps;
}

/** One write to a lock's protected resource through the fence check. */
export interface FencedWrite {
  lock: number;
  token: number;
  /** µs on the shared monotonic clock: before the write was sent, and when its answer came. */
  sent: number;
  replied: number;
  accepted: boolean;
  /** True for a write a holder made after it released (a stalled holder, injected on purpose). */
  late: boolean;
}

/** What the fence did, against what it had to do. */
export interface FenceAudit {
  writes: number;
  refused: number;
  /** Writes sent after a newer token's write had been accepted and answered: they must be refused. */
  stale: number;
  staleRefused: number;
  /** Stale writes the fence let through: fencing is broken. */
  staleAccepted: number;
  /** Of the stale writes, those made by a holder inside its critical section (needs an overlap). */
  staleInSection: number;
  /**
   * Writes refused although no newer token's write was even sent before their answer came:
   * nothing could have raised the fence past them, so the refusal is wrong.
   */
  wrongRefusals: number;
  /** Writes whose window [sent, replied] another newer write's overlaps: either answer is right. */
  undecided: number;
}

/**
 * Audits every fenced write against the accepted writes of newer tokens on the same lock, by
 * causality on the shared clock: a newer token answered before this write was sent ran first (so
 * this write is stale and must be refused); no newer token sent before this write's answer cannot
 * have run first (so it must be accepted); anything in between may go either way.
 */
export function auditFence(writes: readonly FencedWrite[]): FenceAudit {
  const audit: FenceAudit = { writes: writes.length, refused: 0, stale: 0, staleRefused: 0, staleAccepted: 0, staleInSection: 0, wrongRefusals: 0, undecided: 0 };
  for (const group of byLock(writes).values()) {
    const accepted = group.filter((w) => w.accepted);
    const doneBy = prefixMax(accepted, (w) => w.replied);
    const sentBy = prefixMax(accepted, (w) => w.sent);
    for (const write of group) {
      if (!write.accepted) audit.refused++;
      // Newest token answered strictly before this write left, and newest sent before its answer came.
      const stale = maxBefore(doneBy, write.sent) > write.token;
      const maybeStale = maxBefore(sentBy, write.replied) > write.token;
      if (stale) {
        audit.stale++;
        if (write.accepted) audit.staleAccepted++;
        else audit.staleRefused++;
        if (!write.late) audit.staleInSection++;
      } else if (!maybeStale) {
        if (!write.accepted) audit.wrongRefusals++;
      } else {
        audit.undecided++;
      }
    }
  }
  return audit;
}

/** The most timestamps within any window `(t - windowMs, t]`, and the end `t` of the first such window. */
export function maxInWindow(timestampsMs: readonly number[], windowMs: number): { max: number; at: number } {
  const sorted = Float64Array.from(timestampsMs).sort();
  let best = { max: 0, at: NaN };
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    // An admission exactly windowMs before `t` has left the window (the script's ZREMRANGEBYSCORE -inf, now - window).
    while (sorted[first] <= sorted[last] - windowMs) first++;
    const count = last - first + 1;
    if (count > best.max) best = { max: count, at: sorted[last] };
  }
  return best;
}

function byLock<T extends { lock: number }>(items: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(item.lock);
    if (group) group.push(item);
    else groups.set(item.lock, [item]);
  }
  return groups;
}

/** Writes sorted by `at`, with the highest token among each one and those before it. */
interface PrefixMax {
  at: Float64Array;
  max: Float64Array;
}

function prefixMax(writes: readonly FencedWrite[], at: (w: FencedWrite) => number): PrefixMax {
  const sorted = [...writes].sort((a, b) => at(a) - at(b));
  const result = { at: new Float64Array(sorted.length), max: new Float64Array(sorted.length) };
  let max = -Infinity;
  sorted.forEach((w, i) => {
    max = Math.max(max, w.token);
    result.at[i] = at(w);
    result.max[i] = max;
  });
  return result;
}

/** Highest token among the entries strictly before `time`; -Infinity when none. */
function maxBefore(prefix: PrefixMax, time: number): number {
  let lo = 0;
  let hi = prefix.at.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (prefix.at[mid] < time) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? -Infinity : prefix.max[lo - 1];
}
