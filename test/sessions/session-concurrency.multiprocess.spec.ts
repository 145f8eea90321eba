import { fileURLToPath } from 'node:url';
import { forkWorker, workersOnStandalone } from '../locks/worker-process.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { sessionApp, type SessionTestApp } from './session-test-app.js';

// Children import the built library (libs/coordination/dist): `npm run build:lib` (run by `pretest`) must have run.
const CHILD = fileURLToPath(new URL('./children/session-writer.child.mjs', import.meta.url));
const PROCESSES = 4;
const WRITES = 60;
const LANES = 6;

interface Done {
  writes: Array<[version: number, value: unknown]>;
  conflicts: number;
}

/**
 * Several processes (each its own CoordinationModule on the standalone Redis) update one
 * session at once: every update is one atomic step that increments the version, so no update
 * is lost, different fields never overwrite each other, one field ends with the write the
 * server applied last, and a compare-and-set has exactly one winner per version.
 */
describe('concurrent session updates from several processes (standalone Redis)', () => {
  const { workers } = workersOnStandalone();
  const standalone = DRIVERS.find((d) => d.name === 'standalone')!;
  let app: SessionTestApp;
  let prefix: string;
  beforeEach(async () => {
    prefix = uniquePrefix('sesswrite');
    app = await sessionApp(standalone, { prefix });
  });
  afterEach(() => app.close());

  /** Forks the processes on one session, starts them together, and returns each one's report. */
  async function race(mode: 'fields' | 'same' | 'cas', id: string): Promise<Done[]> {
    workers.push(...Array.from({ length: PROCESSES }, (_, index) => forkWorker(CHILD, { prefix, id, mode, index, writes: WRITES, lanes: LANES })));
    await Promise.all(workers.map((w) => w.next('ready')));
    const done = workers.map((w) => w.next('done'));
    for (const worker of workers) worker.child.send({ type: 'go' });
    return (await Promise.all(done)) as unknown as Done[];
  }

  const TOTAL = PROCESSES * WRITES;
  /** The versions 2 .. TOTAL + 1, each once: one per update, none lost, none shared. */
  const everyVersion = Array.from({ length: TOTAL }, (_, i) => i + 2);
  const versionsOf = (reports: Done[]) => reports.flatMap((r) => r.writes.map(([version]) => version)).sort((a, b) => a - b);

  it('updates of different fields lose nothing', async () => {
    const session = await app.sessions.create('ada', { own: 'kept' });
    const reports = await race('fields', session.id);
    expect(versionsOf(reports)).toEqual(everyVersion);
    const final = (await app.sessions.get(session.id))!;
    expect(final.version).toBe(TOTAL + 1);
    const expected: Record<string, unknown> = { own: 'kept' };
    for (let p = 0; p < PROCESSES; p++) for (let k = 0; k < WRITES; k++) expected[`p${p}-${k}`] = k;
    expect(final.data).toEqual(expected);
  }, 90_000);

  it('conflicting writes to one field resolve in server order: the last one applied wins', async () => {
    const session = await app.sessions.create('ada', { winner: 'nobody', other: 1 });
    const reports = await race('same', session.id);
    const writes = reports.flatMap((r) => r.writes).sort(([a], [b]) => a - b);
    expect(writes.map(([version]) => version)).toEqual(everyVersion);
    const final = (await app.sessions.get(session.id))!;
    expect(final.data).toEqual({ winner: writes[writes.length - 1][1], other: 1 });
    expect(new Set(writes.map(([, value]) => String(value).split(':')[0])).size).toBe(PROCESSES);
  }, 90_000);

  it('ifVersion: exactly one winner per version under contention', async () => {
    const session = await app.sessions.create('ada', { counter: 0 });
    const reports = await race('cas', session.id);
    const won = reports.flatMap((r) => r.writes);
    // Each version was won once, and the winner wrote the counter its read saw plus one.
    expect(won.map(([version]) => version).sort((a, b) => a - b)).toEqual(everyVersion);
    for (const [version, counter] of won) expect(counter).toBe(version - 1);
    const final = (await app.sessions.get(session.id))!;
    expect(final).toMatchObject({ version: TOTAL + 1, data: { counter: TOTAL } });
    // Contention happened (lanes of several processes read the same version); the losers retried.
    expect(reports.reduce((sum, r) => sum + r.conflicts, 0)).toBeGreaterThan(0);
  }, 90_000);
});
