import fc from 'fast-check';
import type { CoordinationModuleOptions } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import type { DriverCase } from '../support/drivers.js';
import { uniquePrefix } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { assertNoPollution, assertTyped, describeValue, fuzzParameters, prototypeSnapshot, RejectionWatch, settle, type Outcome } from './fuzz-support.js';

/** One public method under fuzzing. */
export interface FuzzMethod {
  /** `service.method`, as failures name it. */
  readonly name: string;
  /** Its arguments. */
  readonly args: fc.Arbitrary<unknown[]>;
  /** Calls it on the booted module. */
  call(booted: BootedModule, args: unknown[]): unknown;
  /** Lets go of what a successful call took (a lock, a subscription, a campaign). */
  cleanup?(value: unknown, booted: BootedModule): Promise<void> | void;
  /** An error the test's own callback threw on purpose, passed through as the method documents. */
  passesThrough?(error: unknown): boolean;
  /**
   * Capabilities whose keys a successful call may write in the shared namespace (`_shared`):
   * fleet-wide roles, global counters, the task queue. None by default.
   */
  shared?(args: unknown[]): readonly string[];
  /** Tenants the call uses whatever its outcome (a lock it takes before the part under test). */
  tenants?(args: unknown[]): readonly string[];
  /** Why no fuzzed call can succeed (the success needs a state the runs do not build): skips the reach check. */
  readonly refusalsOnly?: string;
  /** Arguments of a call that succeeds, run first (fast-check `examples`): every method reaches its store at least once. */
  readonly example?: unknown[];
  /** Runs of this method (before FUZZ_RUNS); default 40. */
  readonly runs?: number;
}

/** Keys every module may keep in the shared namespace whatever was called (fleet heartbeats, leases). */
const ALWAYS_SHARED = ['ratelimit-fleet', 'session-prune'];

/** What a fuzzing suite tracks across its methods, for the final key-scan property. */
export class FuzzLedger {
  /** Tenants of successful calls. */
  readonly tenants = new Set<string>();
  /** Capabilities allowed in the shared namespace. */
  readonly shared = new Set<string>(ALWAYS_SHARED);
  /** Successful calls by method, so a suite can tell a method was not only ever refused. */
  readonly successes = new Map<string, number>();

  /** How calls of each method ended: `ok` or the error's code and the start of its message (FUZZ_STATS=1 prints them). */
  readonly outcomes = new Map<string, Map<string, number>>();

  record(method: FuzzMethod, args: unknown[], outcome: Outcome): void {
    for (const tenant of method.tenants?.(args) ?? []) this.tenants.add(tenant);
    const label = outcome.ok ? 'ok' : `${(outcome.error as { code?: string })?.code ?? 'raw'} ${String((outcome.error as Error)?.message).slice(0, 70)}`;
    const byLabel = this.outcomes.get(method.name) ?? new Map<string, number>();
    this.outcomes.set(method.name, byLabel.set(label, (byLabel.get(label) ?? 0) + 1));
    if (!outcome.ok) return;
    this.successes.set(method.name, (this.successes.get(method.name) ?? 0) + 1);
    for (const tenant of tenantsIn(args)) this.tenants.add(tenant);
    for (const capability of method.shared?.(args) ?? []) this.shared.add(capability);
  }
}

/** Tenants named by the arguments: `{ tenant }` of any options object (one level into arrays), or tenants.run's first. */
function tenantsIn(args: unknown[]): string[] {
  const found: string[] = [];
  const visit = (value: unknown, depth: number) => {
    if (typeof value !== 'object' || value === null || depth > 2) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    const tenant = Object.getOwnPropertyDescriptor(value, 'tenant')?.value;
    if (typeof tenant === 'string') found.push(tenant);
  };
  for (const arg of args) visit(arg, 0);
  return found;
}

/**
 * Fuzzes every method of `methods()` on `driver`: each call resolves or fails with a
 * CoordinationError, leaves no unhandled rejection and no prototype pollution; afterwards every
 * key under the module's prefix belongs to a tenant of a successful call (or a documented
 * shared capability).
 */
export function fuzzSuite(
  driver: DriverCase,
  methods: readonly FuzzMethod[],
  extra: { options?: CoordinationModuleOptions; extras?: Parameters<typeof bootModule>[1] } = {},
): void {
  const prefix = uniquePrefix('fz');
  const ledger = new FuzzLedger();
  const watch = new RejectionWatch();
  const prototypes = prototypeSnapshot();
  let booted: BootedModule;

  beforeAll(async () => {
    booted = await bootModule(
      { ...driver.options(), prefix, tenancy: { required: true }, health: { pingIntervalMs: 0 }, ...extra.options },
      extra.extras,
    );
    watch.start();
  });
  afterAll(async () => {
    if (process.env.FUZZ_STATS) {
      const lines = [...ledger.outcomes].map(([name, byLabel]) => `${name}\n${[...byLabel].sort((a, b) => b[1] - a[1]).map(([label, n]) => `  ${n}\t${label}`).join('\n')}`);
      console.log(`${driver.name}:\n${lines.join('\n')}`);
    }
    watch.stop();
    await booted?.close();
  });

  for (const method of methods) {
    it(`${method.name}: resolves or throws a CoordinationError, never a raw error or an unhandled rejection`, async () => {
      await fc.assert(
        fc.asyncProperty(method.args, async (args) => {
          const outcome = await settle(() => method.call(booted, args));
          try {
            // The callback's own error, passed through: the call ran as a successful one would.
            const passedThrough = !outcome.ok && method.passesThrough?.(outcome.error) === true;
            ledger.record(method, args, passedThrough ? { ok: true, value: undefined } : outcome);
            if (!passedThrough) assertTyped(`${method.name}(${args.map(describeValue).join(', ')})`, outcome);
          } finally {
            if (outcome.ok) await cleanup(method, outcome, booted);
          }
          await watch.assertNone(method.name);
        }),
        { ...fuzzParameters<[unknown[]]>(method.runs ?? 40), ...(method.example ? { examples: [[method.example]] } : {}) },
      );
    });
  }

  it('got past validation at least once with every method (the runs reach the store)', () => {
    const neverSucceeded = methods.filter((m) => m.refusalsOnly === undefined && !ledger.successes.has(m.name)).map((m) => m.name);
    expect(neverSucceeded).toEqual([]);
  });

  it('pollutes no built-in prototype', () => {
    assertNoPollution(prototypes);
  });

  if (driver.name !== 'memory') {
    it('leaves no key outside the tenants of its successful calls (SCAN of the prefix)', async () => {
      const keys = await scanKeys(booted.core, `${prefix}:*`);
      const strays = keys.filter((key) => {
        const [, tenant, capability] = key.split(':');
        return !(ledger.tenants.has(tenant) || (tenant === '_shared' && ledger.shared.has(capability)));
      });
      expect({ strays: strays.slice(0, 10), tenantsUsed: ledger.tenants.size > 0 }).toEqual({ strays: [], tenantsUsed: true });
    });
  }
}

async function cleanup(method: FuzzMethod, outcome: Outcome & { ok: true }, booted: BootedModule): Promise<void> {
  try {
    await method.cleanup?.(outcome.value, booted);
  } catch (error) {
    throw new Error(`${method.name}: cleaning up after a successful call failed: ${(error as Error)?.message}`, { cause: error });
  }
}
