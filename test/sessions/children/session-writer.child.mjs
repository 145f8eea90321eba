// One process of test/sessions/session-concurrency.multiprocess.spec.ts: its own
// CoordinationModule on the shared Redis, writing to one session (`options.id`) concurrently with
// the other processes. Plain ESM importing the built library (libs/coordination/dist).
// Usage: fork(file, [json options]); messages:
//   -> { type: 'ready' }   booted
//   <- { type: 'go' }      start writing (every process got it at about the same time)
//   -> { type: 'done', writes: [[version, value], ...], conflicts }   once every write returned
// Modes (`options.mode`), `options.writes` writes each over `options.lanes` concurrent lanes:
//   fields: update(id, { `p<index>-<k>`: k }): a field of its own per write
//   same:   update(id, { winner: `<index>:<k>` }): every process writes one field
//   cas:    get, then update(id, { counter: counter + 1 }, { ifVersion }), retried on a version
//           conflict until `writes` of them succeeded
import 'reflect-metadata';
import { SessionService, SessionVersionConflictError } from '@nest-coordination/core';
import { bootChildApp, childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const app = await bootChildApp(options, { sessions: { pruneIntervalMs: 0 } });
const sessions = app.get(SessionService);
const writes = [];
let conflicts = 0;

const modes = {
  async fields(k) {
    const session = await sessions.update(options.id, { [`p${options.index}-${k}`]: k });
    writes.push([session.version, k]);
  },
  async same(k) {
    const value = `${options.index}:${k}`;
    const session = await sessions.update(options.id, { winner: value });
    writes.push([session.version, value]);
  },
  async cas() {
    for (;;) {
      const current = await sessions.get(options.id, { touch: false });
      try {
        const session = await sessions.update(options.id, { counter: current.data.counter + 1 }, { ifVersion: current.version });
        writes.push([session.version, session.data.counter]);
        return;
      } catch (error) {
        if (!(error instanceof SessionVersionConflictError)) throw error;
        conflicts++;
      }
    }
  },
};

/** `options.lanes` lanes taking the next write number until `options.writes` are done. */
async function run(write) {
  let next = 0;
  const lane = async () => {
    while (next < options.writes) await write(next++);
  };
  await Promise.all(Array.from({ length: options.lanes }, lane));
}

process.on('message', async (message) => {
  if (message.type !== 'go') return;
  await run(modes[options.mode]);
  process.send({ type: 'done', writes, conflicts }, async () => {
    await app.close();
    process.exit(0);
  });
});
process.send({ type: 'ready' });
