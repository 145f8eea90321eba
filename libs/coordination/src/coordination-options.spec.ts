import { InvalidOptionsError } from './errors/coordination.error.js';
import { resolveModuleOptions } from './coordination-options.js';

/** The module's options: the core schema plus each capability's section, validated together. */
describe('resolveModuleOptions', () => {
  function problemsOf(raw: unknown): ReadonlyArray<{ option: string; reason: string }> {
    try {
      resolveModuleOptions(raw as never);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      return (error as InvalidOptionsError).problems;
    }
    throw new Error('expected the options to be rejected');
  }

  it('validates each capability section with its own schema, naming the option by its path', () => {
    const problems = problemsOf({ locks: { defaultTtlMs: 0 }, rateLimit: { headers: 'x' }, prefix: '' });
    expect(problems.map((p) => p.option).sort()).toEqual(['locks.defaultTtlMs', 'prefix', 'rateLimit.headers']);
  });

  it('names a capability section among the known options of a misspelt top-level one', () => {
    const [problem] = problemsOf({ lock: {} });
    expect(problem.option).toBe('lock');
    expect(problem.reason).toMatch(/not a known option; known options here: .*\blocks\b.*\brateLimit\b/);
  });

  it('lists the known options of a section when one of its options is unknown', () => {
    const [problem] = problemsOf({ locks: { ttl: 5 } });
    expect(problem.option).toBe('locks.ttl');
    expect(problem.reason).toMatch(/known options here: .*\bdefaultTtlMs\b/);
  });

  it('rejects a section that is not an object', () => {
    expect(problemsOf({ rateLimit: 5 })).toEqual([{ option: 'rateLimit', reason: 'must be an object (got 5)' }]);
  });

  it('resolves each section with its defaults', () => {
    const resolved = resolveModuleOptions({ locks: { defaultTtlMs: 1_000 } });
    expect(resolved.sections.locks).toMatchObject({ defaultTtlMs: 1_000, defaultWaitMs: 10_000 });
    expect(resolved.sections.rateLimit).toMatchObject({ onRedisUnavailable: 'local', headers: 'ietf' });
  });

  it('treats a null section like an absent one: the section resolves to its defaults', () => {
    const resolved = resolveModuleOptions({ locks: null, rateLimit: null } as never);
    expect(resolved.sections).toEqual(resolveModuleOptions({}).sections);
    expect(resolved.sections.rateLimit).toMatchObject({ onRedisUnavailable: 'local', headers: 'ietf' });
  });
});
