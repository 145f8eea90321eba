import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { InvalidArgumentError, ManualClock } from '@nest-coordination/core';
import { CoordinationThrottlerModule, CoordinationThrottlerStorage, withCoordinationStorage } from '@nest-coordination/core/throttler';
import { operationOfScript } from '../../libs/coordination/src/connection/script-operations.js';
import { THROTTLER_INCREMENT_SCRIPT } from '../../libs/coordination/src/rate-limit/throttler/throttler.scripts.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { TestSpans } from '../support/otel-traces.js';

const SOURCE = 'libs/coordination/src';
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g;

/** Every source file the core entry loads (following relative imports) and the packages they import. */
function coreGraph(): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const [, target] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (target.startsWith('.')) visit(join(dirname(file), target.replace(/\.js$/, '.ts')));
      else packages.add(target);
    }
  };
  visit(join(SOURCE, 'index.ts'));
  return { files: [...files].map((f) => relative(SOURCE, f)), packages };
}

describe('@nest-coordination/core/throttler', () => {
  it('is a separate entry point: the core entry loads none of its files and never @nestjs/throttler', () => {
    const { files, packages } = coreGraph();
    expect(files.length).toBeGreaterThan(50); // the walk itself works
    expect(files).toContain('rate-limit/rate-limit.service.ts');
    expect(files.filter((f) => f.startsWith('rate-limit/throttler/'))).toEqual([]);
    expect([...packages].filter((p) => p.startsWith('@nestjs/throttler'))).toEqual([]);
  });

  it('names its script by the public operation in errors', () => {
    expect(operationOfScript(THROTTLER_INCREMENT_SCRIPT)).toBe('throttler.increment');
  });

  it('withCoordinationStorage: forRootAsync options running forRoot options (array form too) on the storage', async () => {
    const throttlers = [{ ttl: 60_000, limit: 10 }];
    const options = withCoordinationStorage({ throttlers, errorMessage: 'slow down' });
    expect(options).toMatchObject({ imports: [CoordinationThrottlerModule], inject: [CoordinationThrottlerStorage] });
    const storage = { increment: async () => ({}) } as unknown as CoordinationThrottlerStorage;
    expect(await options.useFactory!(storage)).toEqual({ throttlers, errorMessage: 'slow down', storage });
    expect(await withCoordinationStorage(throttlers).useFactory!(storage)).toEqual({ throttlers, storage });
    expect(() => withCoordinationStorage({ throttlers, storage })).toThrow(InvalidArgumentError);
    expect(() => withCoordinationStorage({ throttlers, storage })).toThrow(/options\.storage/);
  });

  describe('increment arguments', () => {
    let booted: BootedModule;
    let storage: CoordinationThrottlerStorage;
    beforeAll(async () => {
      booted = await bootModule({ driver: 'memory', clock: new ManualClock(1_700_000_000_000) }, { imports: [CoordinationThrottlerModule] });
      storage = booted.get(CoordinationThrottlerStorage);
    });
    afterAll(() => booted.close());

    it.each([
      ['key', [42, 60_000, 1, 0, 'default']],
      ['ttl', ['k', 0, 1, 0, 'default']],
      ['ttl', ['k', Number.NaN, 1, 0, 'default']],
      ['ttl', ['k', 401 * 86_400_000, 1, 0, 'default']],
      ['limit', ['k', 60_000, -1, 0, 'default']],
      ['limit', ['k', 60_000, Number.POSITIVE_INFINITY, 0, 'default']],
      ['blockDuration', ['k', 60_000, 1, Number.NaN, 'default']],
      ['throttlerName', ['k', 60_000, 1, 0, undefined]],
    ])('rejects a bad %s with InvalidArgumentError naming it', async (argument, args) => {
      const error = await (storage.increment as (...a: unknown[]) => Promise<unknown>)(...args).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
    });

    it('rounds fractional ms up, reads a block of 0 or less as none, and counts any key (long ones hashed)', async () => {
      expect(await storage.increment('k:{*}', 1_500.2, 1, -5, 'x')).toMatchObject({ totalHits: 1, timeToExpire: 2, source: 'memory' });
      expect(await storage.increment('k:{*}', 1_500.2, 1, -5, 'x')).toMatchObject({ isBlocked: true, totalHits: 2 });
      const long = 'u'.repeat(600);
      expect(await storage.increment(long, 60_000, 1, 0, 'x')).toMatchObject({ totalHits: 1 });
      expect(await storage.increment(long, 60_000, 1, 0, 'x')).toMatchObject({ isBlocked: true });
      expect(await storage.increment(`${long}!`, 60_000, 1, 0, 'x')).toMatchObject({ isBlocked: false });
    });
  });

  it('records a ratelimit.throttle span per hit (a block is an outcome, not an error) and counts hits by throttler, outcome and source', async () => {
    const otel = new TestSpans();
    const booted = await bootModule(
      { driver: 'memory', clock: new ManualClock(1_700_000_000_000), telemetry: { tracerProvider: otel.provider } },
      { imports: [CoordinationThrottlerModule] },
    );
    try {
      const storage = booted.get(CoordinationThrottlerStorage);
      await storage.increment('client', 60_000, 1, 60_000, 'short');
      await storage.increment('client', 60_000, 1, 60_000, 'short');
      const spans = otel.named('ratelimit.throttle');
      expect(spans.map((s) => [s.attributes['coordination.ratelimit.allowed'], s.attributes['coordination.ratelimit.total_hits'], s.status.code])).toEqual([
        [true, 1, 0], [false, 2, 0],
      ]);
      expect(spans[0].attributes).toMatchObject({ 'coordination.ratelimit.policy': 'short', 'coordination.ratelimit.source': 'memory', 'coordination.key': 'client' });
      const count = (outcome: string) => booted.core.metrics.counter('ratelimit_throttler_hits_total', { throttler: 'short', outcome, source: 'memory' });
      expect([count('allowed'), count('blocked')]).toEqual([1, 1]);
    } finally {
      await booted.close();
    }
  });
});
