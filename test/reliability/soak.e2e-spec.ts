/**
 * The chaos soak's short form (CI): `bench/soak/soak.ts` for 30 s, its summary asserted.
 *
 * `npm test` builds only the library, so this file builds what the soak runs: the demo app, the
 * soak and the Redis harness, transpiled file by file (as ts-jest does: `npm run typecheck` checks
 * their types) into a temporary folder that sees the workspace's node_modules. The soak then starts
 * its own redis-server and three demo processes, drives them while it kills and restarts instances
 * and pauses Redis, and prints one JSON line with its checks.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What the soak prints last: its verdict, each check, and its figures (bench/soak/soak-summary.ts). */
interface SoakSummary {
  kind: 'soak-summary';
  passed: boolean;
  checks: Array<{ name: string; passed: boolean; summary: string; failures: string[]; counts?: Record<string, number> }>;
  figures: {
    runs: { acknowledged: number };
    sessions: { logins: number; liveAtEnd: number };
    edits: { acknowledged: number };
    chaos: { kills: number; redisPauses: number };
    rss: Array<{ instance: string }>;
  };
}

/**
 * Transpiles the soak and the demo (and every workspace file they import: the Redis harness) into
 * `out`, mirroring the workspace's layout as `npm run build` lays out dist/.
 */
function buildSoak(out: string): void {
  const { compilerOptions } = JSON.parse(readFileSync(join(ROOT, 'tsconfig.base.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  // NodeNext picks each file's module format from the nearest package.json, which a file transpiled
  // alone does not see: the workspace is "type": "module", so ES modules.
  const options = {
    ...ts.convertCompilerOptionsFromJson(compilerOptions, ROOT).options, module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler, sourceMap: false,
  };
  const pending = ['bench/soak/soak.ts', 'apps/demo/src/main.ts'];
  const done = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(join(ROOT, file), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: options, fileName: file });
    const target = join(out, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
    // Relative imports are the workspace's own files (`./x.js` is the source `./x.ts`); packages resolve from node_modules.
    for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
      if (fileName.startsWith('.')) pending.push(join(dirname(file), fileName.replace(/\.js$/, '.ts')));
    }
  }
  // As scripts/copy-demo-assets.mjs does for dist/: the dashboard reads its page at boot.
  cpSync(join(ROOT, 'apps/demo/public'), join(out, 'apps/demo/public'), { recursive: true });
  // Packages (and the built library, @nest-coordination/core) resolve from the workspace.
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
}

function runSoak(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 170_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('chaos soak, short form', () => {
  let out: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'coord-soak-build-'));
    buildSoak(out);
  });

  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('keeps every acknowledged session, run, task and edit while instances are killed and Redis pauses for 30 s', async () => {
    // Kept when the soak fails (instance logs, summary.json, ledger.json), removed when it passed.
    const logDir = mkdtempSync(join(tmpdir(), 'coord-soak-logs-'));
    const { code, stdout, stderr } = await runSoak(join(out, 'bench/soak/soak.js'), ['--seconds', '30', '--drain-seconds', '10', '--log-dir', logDir]);
    const line = stdout.split('\n').find((l) => l.startsWith('{"kind":"soak-summary"'));
    if (line === undefined) throw new Error(`the soak printed no summary (exit ${code}):\n${stdout}\n${stderr}`);
    const summary = JSON.parse(line) as SoakSummary;

    // Every check, with its failures (the evidence) and where the logs are when one failed.
    expect({ failed: summary.checks.filter((c) => !c.passed), logDir }).toEqual({ failed: [], logDir });
    expect(summary.checks.map((c) => c.name)).toEqual([
      'no crew ran twice at once',
      'no acknowledged run (stream entry) lost',
      'no acknowledged task lost or stuck',
      'no acknowledged session lost',
      'idempotency: one run per key',
      'crew edits seen (cache invalidated)',
      'rate limits: exact windows never exceeded',
      'RSS within 20 % of its level after warm-up',
      'instances: no crash, every restart booted',
      'no 500 answers (outside crew runs)',
      'every check had something to check',
    ]);
    expect(summary.passed).toBe(true);
    expect(code).toBe(0);
    // The checks had something to check: chaos struck, and users were answered.
    expect(summary.figures.chaos.kills).toBeGreaterThanOrEqual(1);
    expect(summary.figures.chaos.redisPauses).toBeGreaterThanOrEqual(1);
    expect(summary.figures.runs.acknowledged).toBeGreaterThan(0);
    expect(summary.figures.sessions.liveAtEnd).toBeGreaterThan(0);
    expect(summary.figures.edits.acknowledged).toBeGreaterThan(0);
    // Floors: each check looked at something (the soak's own floor check, asserted count by count here too).
    const counts = Object.fromEntries(summary.checks.flatMap((c) => Object.entries(c.counts ?? {})));
    for (const what of ['successive crew run pairs compared', 'agent steps compared', 'steps of acknowledged runs checked', 'live sessions checked', 'shared-limiter admissions', 'kills', 'Redis pauses']) {
      expect({ what, n: counts[what] }).toEqual({ what, n: expect.any(Number) });
      expect({ what, n: counts[what] > 0 }).toEqual({ what, n: true });
    }
    // The RSS rule measured every instance.
    expect(new Set(summary.figures.rss.map((l) => l.instance))).toEqual(new Set(['soak-1', 'soak-2', 'soak-3']));
    rmSync(logDir, { recursive: true, force: true });
  }, 180_000);
});
