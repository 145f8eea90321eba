import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testRedisUrl } from '../harness/env.js';
import { uniquePrefix } from '../support/drivers.js';
import { childReport } from './child-report.js';

// The children import @nest-coordination/core from libs/coordination/dist (built by `pretest`).
const CHILD = fileURLToPath(new URL('./sliding-window-hammer.child.mjs', import.meta.url));
const PROCESSES = 8;
const LIMIT = 40;
const WINDOW_MS = 500;
const DURATION_MS = 1_600;

interface ChildReport {
  admitted: number[];
  attempts: number;
}

describe('exact sliding window across 8 processes (standalone Redis)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

  it('never admits more than the limit in any window, and admits the full limit under excess demand', async () => {
    const prefix = uniquePrefix('rlacc');
    const runs = Array.from({ length: PROCESSES }, () => {
      const child = fork(CHILD, [testRedisUrl(), prefix, '{hammer}', String(LIMIT), String(WINDOW_MS), String(DURATION_MS), '4'], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      return childReport<ChildReport>(child);
    });
    await Promise.all(runs.map((r) => r.ready));
    children.forEach((c) => c.send('go'));
    const reports = await Promise.all(runs.map((r) => r.report));

    const admitted = reports.flatMap((r) => r.admitted).sort((a, b) => a - b);
    const attempts = reports.reduce((sum, r) => sum + r.attempts, 0);
    expect(reports.every((r) => r.admitted.length > 0 || r.attempts > 0)).toBe(true);
    expect(attempts).toBeGreaterThan(admitted.length * 2); // demand exceeded the limit

    // Sliding count over every admission: the window ending at t is (t - W, t], in server us.
    const windowUs = WINDOW_MS * 1000;
    let maxInWindow = 0;
    for (let j = 0, i = 0; j < admitted.length; j++) {
      while (admitted[i] <= admitted[j] - windowUs) i++;
      maxInWindow = Math.max(maxInWindow, j - i + 1);
    }
    expect(maxInWindow).toBeLessThanOrEqual(LIMIT);
    expect(maxInWindow).toBe(LIMIT);
    // Over ~3 windows the limiter keeps admitting: at least one full window's worth per window.
    expect(admitted.length).toBeGreaterThanOrEqual(LIMIT * Math.floor(DURATION_MS / WINDOW_MS));
  }, 60_000);
});
