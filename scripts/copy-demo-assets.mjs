// Copies the demo's static files (the dashboard page: apps/demo/public) next to the compiled demo,
// since tsc only emits .js: the dashboard serves them from `../../public/dashboard/` relative to
// its compiled controller (dist/apps/demo/src/dashboard/), as from the sources.
import { cpSync, rmSync } from 'node:fs';

const src = 'apps/demo/public';
const out = 'dist/apps/demo/public';

rmSync(out, { recursive: true, force: true });
cpSync(src, out, { recursive: true });
