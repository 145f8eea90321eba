import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// `@nest-coordination/core/express-session` imported first, before anything loads
// reflect-metadata (review finding 7): a plain ESM process on the built library
// (libs/coordination/dist, as every child process of the suite).

const SCRIPT = `
const { CoordinationSessionStore } = await import('@nest-coordination/core/express-session');
const { Store } = await import('express-session');
console.log(JSON.stringify({
  store: typeof CoordinationSessionStore === 'function' && CoordinationSessionStore.prototype instanceof Store,
  reflectMetadata: typeof Reflect.getMetadata,
}));
`;

describe('@nest-coordination/core/express-session', () => {
  it('imports as the first module of a process, pulling in no decorated (reflect-metadata) module', async () => {
    // The repository root: node resolves the package through node_modules/@nest-coordination/core.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: process.cwd() });
    expect(JSON.parse(stdout)).toEqual({ store: true, reflectMetadata: 'undefined' });
  });
});
