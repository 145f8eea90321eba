import { handoffGaps, invariantFailures, type ScaleRow } from './analyze.js';
import { auditFence, findOverlaps, maxInWindow, type FencedWrite, type Hold } from './checks.js';

const hold = (lock: number, token: number, start: number, end: number, lost = false): Hold => ({ lock, token, start, end, lost });
/** A hold whose acquire was called at `called` µs with a TTL of `ttlMs`, whose release found the lock lost. */
const lostHold = (lock: number, token: number, start: number, end: number, called: number, ttlMs: number): Hold => ({
  lock, token, start, end, lost: true, called, ttlMs,
});

/** A row that passes every invariant, to change one figure of. */
const healthyRow = (): ScaleRow => ({
  topology: 'standalone', instances: 10, holds: 100, admitted: 50, overlaps: 0, overlapsAfterLoss: 0, locksLost: 0,
  fence: { writes: 110, refused: 10, stale: 10, staleRefused: 10, staleAccepted: 0, staleInSection: 0, wrongRefusals: 0, undecided: 0 },
  maxAdmittedPerWindow: 10, limit: 10, localDecisions: 0, localAdmitted: 0, unknownDecisions: 0, errors: 0, clients: 30, maxClients: 10_000,
} as unknown as ScaleRow);

const write = (token: number, sent: number, replied: number, accepted: boolean, late = false): FencedWrite => ({
  lock: 0, token, sent, replied, accepted, late,
});

describe('scale run checks', () => {
  describe('findOverlaps', () => {
    it('finds none when each hold ends before the next one of its lock starts, in any order', () => {
      expect(findOverlaps([hold(0, 3, 20, 30), hold(0, 1, 0, 10), hold(0, 2, 10.5, 19.9)])).toEqual([]);
    });

    it('does not count holds of different locks at the same time', () => {
      expect(findOverlaps([hold(0, 1, 0, 10), hold(1, 2, 5, 15)])).toEqual([]);
    });

    it('reports a hold that starts before the previous one ended', () => {
      expect(findOverlaps([hold(0, 1, 0, 10), hold(0, 2, 9.999, 20)])).toEqual([{ lock: 0, earlier: 1, later: 2, afterLoss: false }]);
    });

    it('treats touching ends as no overlap (the next holder starts as the last one ends)', () => {
      expect(findOverlaps([hold(0, 1, 0, 10), hold(0, 2, 10, 20)])).toEqual([]);
    });

    it('finds a hold nested in a long one even after a short one in between ended', () => {
      // 1 runs 0-100; 2 overlaps it (5-6); 3 starts at 50: still inside 1, though 2 has ended.
      const found = findOverlaps([hold(0, 1, 0, 100), hold(0, 2, 5, 6), hold(0, 3, 50, 60)]);
      expect(found).toEqual([{ lock: 0, earlier: 1, later: 2, afterLoss: false }, { lock: 0, earlier: 1, later: 3, afterLoss: false }]);
    });

    it('marks an overlap with a holder that lost its lock as after loss once its lease could have expired', () => {
      // Acquire called at 0 with a TTL of 0.04 ms (40 µs): the lease ran out by 40, and 2 starts at 50.
      expect(findOverlaps([lostHold(0, 1, 0, 100, 0, 0.04), hold(0, 2, 50, 60)])).toEqual([{ lock: 0, earlier: 1, later: 2, afterLoss: true }]);
    });

    it('does not excuse an overlap with a lost holder whose lease cannot have expired yet (a wrongful takeover)', () => {
      // The release threw LockLostError, but the lock was taken 50 µs into a 10 s lease: a double grant.
      expect(findOverlaps([lostHold(0, 1, 0, 100, 0, 10_000), hold(0, 2, 50, 60)])).toEqual([{ lock: 0, earlier: 1, later: 2, afterLoss: false }]);
    });

    it('does not excuse an overlap with a lost holder whose acquire time is unknown', () => {
      expect(findOverlaps([hold(0, 1, 0, 100, true), hold(0, 2, 50, 60)])).toEqual([{ lock: 0, earlier: 1, later: 2, afterLoss: false }]);
    });

    it('does not excuse an overlap with a holder that still held the lock, even beside one that lost it', () => {
      // 1 lost its lock and runs to 100; 2 still holds until 70; 3 starts at 65, inside both.
      const found = findOverlaps([lostHold(0, 1, 0, 100, 0, 0.001), hold(0, 2, 10, 70), hold(0, 3, 65, 80)]);
      expect(found).toContainEqual({ lock: 0, earlier: 2, later: 3, afterLoss: false });
    });
  });

  describe('auditFence', () => {
    it('counts a write sent after a newer token was accepted and answered as stale, and its refusal as right', () => {
      const audit = auditFence([write(2, 0, 5, true), write(1, 6, 8, false, true)]);
      expect(audit).toMatchObject({ writes: 2, refused: 1, stale: 1, staleRefused: 1, staleAccepted: 0, staleInSection: 0, wrongRefusals: 0, undecided: 0 });
    });

    it('flags a stale write the fence accepted', () => {
      const audit = auditFence([write(2, 0, 5, true), write(1, 6, 8, true, true)]);
      expect(audit.staleAccepted).toBe(1);
    });

    it('counts a stale write inside a critical section apart from a late one', () => {
      const audit = auditFence([write(2, 0, 5, true), write(1, 6, 8, false)]);
      expect(audit.staleInSection).toBe(1);
    });

    it('flags a refusal no newer write could explain', () => {
      // Token 2 was sent only after token 1's answer: nothing newer ran before 1.
      const audit = auditFence([write(1, 0, 5, false), write(2, 6, 8, true)]);
      expect(audit.wrongRefusals).toBe(1);
      expect(audit.stale).toBe(0);
    });

    it('ignores refused newer writes: only an accepted write raises the fence', () => {
      const audit = auditFence([write(3, 0, 1, false), write(1, 2, 3, true)]);
      expect(audit.stale).toBe(0);
      expect(audit.staleAccepted).toBe(0);
    });

    it('leaves a write that raced a newer one undecided, whatever the fence said', () => {
      for (const accepted of [true, false]) {
        const audit = auditFence([write(2, 0, 10, true), write(1, 5, 15, accepted, true)]);
        expect(audit).toMatchObject({ stale: 0, wrongRefusals: 0, undecided: 1 });
      }
    });

    it('accepts the same token writing again (an equal token is not older)', () => {
      const audit = auditFence([write(2, 0, 5, true), write(2, 6, 8, true, true)]);
      expect(audit).toMatchObject({ stale: 0, staleAccepted: 0, wrongRefusals: 0 });
    });

    it('compares writes of the same lock only', () => {
      const other: FencedWrite = { lock: 1, token: 9, sent: 0, replied: 1, accepted: true, late: false };
      const audit = auditFence([other, write(1, 2, 3, true)]);
      expect(audit.staleAccepted).toBe(0);
    });
  });

  describe('maxInWindow', () => {
    it('counts the admissions within (t - window, t] at every admission t', () => {
      // 0 has left the window ending at 1000 (an entry exactly a window old is out); 500 and both 1000s are in it.
      expect(maxInWindow([0, 500, 1000, 1000], 1_000)).toEqual({ max: 3, at: 1000 });
    });

    it('finds the busiest window anywhere, in unsorted input', () => {
      expect(maxInWindow([5000, 10, 5001, 20, 5002, 30, 5999], 1_000)).toEqual({ max: 4, at: 5999 });
    });

    it('counts equal timestamps (same millisecond) together', () => {
      expect(maxInWindow([7, 7, 7], 1_000).max).toBe(3);
    });

    it('is 0 without admissions', () => {
      expect(maxInWindow([], 1_000).max).toBe(0);
    });

    it('would catch one admission over the limit in a sliding window that no fixed window sees', () => {
      // Two fixed windows [0, 1000) and [1000, 2000) each hold 10; the window ending at 1400 holds 11.
      const times = [...Array.from({ length: 5 }, (_, i) => 600 + i), ...Array.from({ length: 5 }, (_, i) => 900 + i),
        ...Array.from({ length: 1 }, () => 1400), ...Array.from({ length: 9 }, (_, i) => 1990 + i)];
      expect(maxInWindow(times, 1_000).max).toBe(11);
    });
  });

  describe('invariantFailures', () => {
    it('passes a healthy row', () => {
      expect(invariantFailures(healthyRow())).toEqual([]);
    });

    it('fails a run in which any lock was lost (holds of a few ms under a 10 s TTL never expire rightly)', () => {
      expect(invariantFailures({ ...healthyRow(), locksLost: 1 })).toEqual([expect.stringContaining('lost')]);
    });

    it('fails a run whose fence audit saw no stale write (the audit checked nothing)', () => {
      const row = healthyRow();
      expect(invariantFailures({ ...row, fence: { ...row.fence, stale: 0, staleRefused: 0 } })).toEqual([expect.stringContaining('stale')]);
    });

    it('fails the sliding-window check when a decision\'s Redis outcome is unknown (answered locally or failed)', () => {
      expect(invariantFailures({ ...healthyRow(), localDecisions: 3, unknownDecisions: 3 })).toEqual([expect.stringContaining('window')]);
    });
  });

  describe('handoffGaps', () => {
    it('measures from a holder end to the next start only when the next was already waiting', () => {
      const holds = [
        { ...hold(0, 1, 0, 10), called: 0 },
        { ...hold(0, 2, 13, 20), called: 5 }, // waited: gap 3
        { ...hold(0, 3, 40, 50), called: 30 }, // came after 2 ended: idle, not a hand-off
      ];
      expect(handoffGaps(holds)).toEqual([3]);
    });
  });
});
