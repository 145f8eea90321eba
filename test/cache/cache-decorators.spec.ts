import 'reflect-metadata';
import { Inject, Injectable, SetMetadata } from '@nestjs/common';
import {
  CacheEvict, CachePut, CacheService, Cacheable, CoordinationModule, InvalidArgumentError, InvalidKeyError, LockService, MAX_ID_LENGTH, WithLock,
  type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { bootFailure, bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';

interface CrewRef {
  company: string;
}

/** Sets metadata on the method function itself, like Nest's own decorators do. */
const Marked = (value: string): MethodDecorator => (_target, _key, descriptor) => {
  Reflect.defineMetadata('test:marked', value, descriptor.value as object);
};

@Injectable()
class CrewConfigs {
  loads = 0;
  /** What the next load returns. */
  version = 1;

  @Cacheable({ key: 'crew:{0}', ttlMs: 60_000, tags: ['crew:{0}', 'company:{1.company}'] })
  async config(crewId: string, _ref: CrewRef): Promise<{ crewId: string; version: number }> {
    this.loads += 1;
    return { crewId, version: this.version };
  }

  @Cacheable({ key: (crewId: string) => `members:${crewId}`, tags: (crewId: string) => [`crew:${crewId}`] })
  async members(crewId: string): Promise<string[]> {
    this.loads += 1;
    return [`${crewId}-a`, `${crewId}-b`];
  }

  @CacheEvict({ tags: ['crew:{0}'] })
  async rename(crewId: string): Promise<string> {
    return `renamed ${crewId}`;
  }

  @CacheEvict({ keys: ['crew:{0}'] })
  async failAfter(_crewId: string): Promise<never> {
    throw new Error('update failed');
  }

  @CacheEvict({ keys: ['crew:{0}'], beforeInvocation: true })
  async failBefore(_crewId: string): Promise<never> {
    throw new Error('update failed');
  }

  @CacheEvict({ patterns: ['members:*'] })
  async resetMembers(): Promise<void> {}

  @CachePut({ key: 'crew:{0}', tags: ['crew:{0}', 'company:{1.company}'] })
  async save(crewId: string, _ref: CrewRef, version: number): Promise<{ crewId: string; version: number }> {
    return { crewId, version };
  }

  @CachePut({ key: 'crew:{0}' })
  async saveNothing(_crewId: string): Promise<undefined> {
    return undefined;
  }

  @SetMetadata('test:role', 'admin')
  @Marked('above')
  @Cacheable({ key: 'above' })
  async decoratedAbove(): Promise<string> {
    return 'above';
  }

  @Cacheable({ key: 'below' })
  @SetMetadata('test:role', 'admin')
  @Marked('below')
  @Reflect.metadata('test:design', 'kept')
  async decoratedBelow(): Promise<string> {
    return 'below';
  }

  @Cacheable({ key: 'doc:{0}:{1}', tags: ['owner:{0}'] })
  async doc(owner: string, name: string): Promise<string> {
    this.loads += 1;
    return `${owner}/${name}`;
  }

  @CacheEvict({ keys: ['doc:{0}:{1}'] })
  async dropDoc(_owner: string, _name: string): Promise<void> {}

  @CacheEvict({ patterns: ['doc:{0}:*'] })
  async dropDocsOf(_owner: string): Promise<void> {}

  @CacheEvict({ tags: ['owner:{0}'] })
  async dropOwner(_owner: string): Promise<void> {}

  @CacheEvict({ tags: ['crew:{0}'] })
  @CachePut({ key: 'crew:{0}' })
  async stacked(crewId: string, version: number): Promise<{ crewId: string; version: number }> {
    return { crewId, version };
  }
}

const ACME: CrewRef = { company: 'acme' };

describe.each(DRIVERS)('cache decorators ($name)', (driver) => {
  let booted: BootedModule;
  let crews: CrewConfigs;
  let cache: CacheService;
  const inTenant = <T>(tenant: string, fn: () => Promise<T>): Promise<T> => booted.core.tenants.run(tenant, fn);

  beforeEach(async () => {
    booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('cdec'), health: { pingIntervalMs: 0 } }, { providers: [CrewConfigs] });
    crews = booted.get(CrewConfigs);
    cache = booted.get(CacheService);
  });

  afterEach(async () => {
    await booted.close();
  });

  it('@Cacheable caches the result under the template key, per tenant', async () => {
    await expect(inTenant('acme', () => crews.config('c1', ACME))).resolves.toEqual({ crewId: 'c1', version: 1 });
    crews.version = 2;
    await expect(inTenant('acme', () => crews.config('c1', ACME))).resolves.toEqual({ crewId: 'c1', version: 1 });
    expect(crews.loads).toBe(1);
    await expect(cache.get('crew:c1', { tenant: 'acme' })).resolves.toEqual({ crewId: 'c1', version: 1 });
    // Another tenant, another entry: loaded again, and nothing leaked into acme's.
    await expect(inTenant('globex', () => crews.config('c1', ACME))).resolves.toEqual({ crewId: 'c1', version: 2 });
    expect(crews.loads).toBe(2);
    await expect(cache.get('crew:c1', { tenant: 'acme' })).resolves.toEqual({ crewId: 'c1', version: 1 });
    // Another argument, another key.
    await expect(inTenant('acme', () => crews.config('c2', ACME))).resolves.toEqual({ crewId: 'c2', version: 2 });
    expect(crews.loads).toBe(3);
  });

  it('@Cacheable takes key and tag functions of the arguments', async () => {
    await expect(inTenant('acme', () => crews.members('c1'))).resolves.toEqual(['c1-a', 'c1-b']);
    await expect(cache.get('members:c1', { tenant: 'acme' })).resolves.toEqual(['c1-a', 'c1-b']);
    await inTenant('acme', () => cache.invalidateTags(['crew:c1']));
    await expect(cache.get('members:c1', { tenant: 'acme' })).resolves.toBeUndefined();
  });

  it("@CacheEvict invalidates the resolved tags after the method, in the caller's tenant only", async () => {
    await inTenant('acme', () => crews.config('c1', ACME));
    await inTenant('globex', () => crews.config('c1', ACME));
    expect(crews.loads).toBe(2);
    crews.version = 2;
    await expect(inTenant('acme', () => crews.rename('c1'))).resolves.toBe('renamed c1');
    await expect(cache.get('crew:c1', { tenant: 'acme' })).resolves.toBeUndefined();
    await expect(cache.get('crew:c1', { tenant: 'globex' })).resolves.toEqual({ crewId: 'c1', version: 1 });
    await expect(inTenant('acme', () => crews.config('c1', ACME))).resolves.toEqual({ crewId: 'c1', version: 2 });
    expect(crews.loads).toBe(3);
  });

  it('@CacheEvict evicts after success only, or before the call with beforeInvocation', async () => {
    await inTenant('acme', () => crews.config('c1', ACME));
    await expect(inTenant('acme', () => crews.failAfter('c1'))).rejects.toThrow('update failed');
    await expect(cache.get('crew:c1', { tenant: 'acme' })).resolves.toEqual({ crewId: 'c1', version: 1 });
    await expect(inTenant('acme', () => crews.failBefore('c1'))).rejects.toThrow('update failed');
    await expect(cache.get('crew:c1', { tenant: 'acme' })).resolves.toBeUndefined();
  });

  it('@CacheEvict invalidates patterns', async () => {
    await inTenant('acme', () => crews.members('c1'));
    await inTenant('acme', () => crews.members('c2'));
    await inTenant('acme', () => crews.config('c1', ACME));
    await inTenant('acme', () => crews.resetMembers());
    await expect(cache.mget(['members:c1', 'members:c2'], { tenant: 'acme' })).resolves.toEqual([undefined, undefined]);
    await expect(cache.get('crew:c1', { tenant: 'acme' })).resolves.toEqual({ crewId: 'c1', version: 1 });
  });

  it('@CachePut writes the result, with its tags, and the @Cacheable reader serves it', async () => {
    await expect(inTenant('acme', () => crews.save('c1', ACME, 7))).resolves.toEqual({ crewId: 'c1', version: 7 });
    await expect(inTenant('acme', () => crews.config('c1', ACME))).resolves.toEqual({ crewId: 'c1', version: 7 });
    expect(crews.loads).toBe(0);
    await inTenant('acme', () => cache.invalidateTags(['company:acme']));
    await expect(cache.get('crew:c1', { tenant: 'acme' })).resolves.toBeUndefined();
    // undefined is returned, not written (and not an error).
    await expect(inTenant('acme', () => crews.saveNothing('c1'))).resolves.toBeUndefined();
    await expect(cache.has('crew:c1', { tenant: 'acme' })).resolves.toBe(false);
  });

  it('stacked cache decorators both run: the put, then the eviction of its tag', async () => {
    await inTenant('acme', () => cache.set('crew:c9', 'old', { tags: ['crew:c9'] }));
    await inTenant('acme', () => cache.set('members:c9', ['x'], { tags: ['crew:c9'] }));
    await inTenant('acme', () => crews.stacked('c9', 3));
    await expect(cache.get('members:c9', { tenant: 'acme' })).resolves.toBeUndefined();
    // The put wrote without tags, so the eviction of crew:c9 that ran after it left it alone.
    await expect(cache.get('crew:c9', { tenant: 'acme' })).resolves.toEqual({ crewId: 'c9', version: 3 });
  });

  it('distinct arguments never share an entry, whatever characters they hold', async () => {
    await expect(inTenant('acme', () => crews.doc('alice:secret', 'x'))).resolves.toBe('alice:secret/x');
    await expect(inTenant('acme', () => crews.doc('alice', 'secret:x'))).resolves.toBe('alice/secret:x');
    await expect(inTenant('acme', () => crews.doc('alice', 'secret%3Ax'))).resolves.toBe('alice/secret%3Ax');
    expect(crews.loads).toBe(3);
    // A * in an argument of a pattern is literal: the eviction of 'a*' leaves 'ab' alone.
    await inTenant('acme', () => crews.doc('ab', 'x'));
    await inTenant('acme', () => crews.doc('a*', 'x'));
    await inTenant('acme', () => crews.dropDocsOf('a*'));
    await inTenant('acme', () => crews.doc('ab', 'x'));
    expect(crews.loads).toBe(5);
    await inTenant('acme', () => crews.doc('a*', 'x'));
    expect(crews.loads).toBe(6);
  });

  it('a key or tag longer than MAX_ID_LENGTH is hashed: the method runs, is cached, and evicts by key, pattern and tag', async () => {
    const owner = 'o'.repeat(300);
    const name = 'n'.repeat(300);
    const doc = () => inTenant('acme', () => crews.doc(owner, name));
    await expect(doc()).resolves.toBe(`${owner}/${name}`);
    await expect(doc()).resolves.toBe(`${owner}/${name}`);
    expect(crews.loads).toBe(1);
    await inTenant('acme', () => crews.dropDoc(owner, name));
    await doc();
    expect(crews.loads).toBe(2);
    // The hashed key keeps its head, so a pattern over its beginning still reaches it.
    await inTenant('acme', () => crews.dropDocsOf(owner));
    await doc();
    expect(crews.loads).toBe(3);
    const longOwner = 'p'.repeat(600);
    await inTenant('acme', () => crews.doc(longOwner, 'x'));
    await inTenant('acme', () => crews.dropOwner(longOwner));
    await inTenant('acme', () => crews.doc(longOwner, 'x'));
    expect(crews.loads).toBe(5);
  });

  it('a placeholder that resolves to nothing is a typed error naming it, before the method or the cache run', async () => {
    const error = await rejectionOf(inTenant('acme', () => crews.config('c1', {} as CrewRef)));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument: 'tags[1]' });
    expect((error as Error).message).toMatch(/placeholder \{1\.company\} of "company:\{1\.company\}" resolved to undefined/);
    const missingKey = await rejectionOf(inTenant('acme', () => (crews.config as (...args: unknown[]) => Promise<unknown>)()));
    expect(missingKey).toMatchObject({ argument: 'key', message: expect.stringMatching(/placeholder \{0\} of "crew:\{0\}"/) });
    const put = await rejectionOf(inTenant('acme', () => crews.save(null as unknown as string, ACME, 1)));
    expect(put).toMatchObject({ argument: 'key', message: expect.stringMatching(/resolved to null/) });
    expect(crews.loads).toBe(0);
    await expect(cache.has('crew:c1', { tenant: 'acme' })).resolves.toBe(false);
  });
});

/** @WithLock shares the key templates: values are encoded the same way, but a lock key is never hashed. */
@Injectable()
class DocLocks {
  runs = 0;
  constructor(@Inject(LockService) private readonly locks: LockService) {}

  @WithLock('doc:{0}:{1}', { waitMs: 0 })
  async edit(_owner: string, _name: string): Promise<string | undefined> {
    this.runs += 1;
    return this.locks.current()?.key;
  }
}

describe('key templates under @WithLock', () => {
  it('encodes values in the lock key, and rejects a lock key over MAX_ID_LENGTH with InvalidKeyError before running', async () => {
    const booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 } }, { providers: [DocLocks] });
    try {
      const docs = booted.get(DocLocks);
      await expect(docs.edit('alice', 'secret:x')).resolves.toBe('doc:alice:secret%3Ax');
      await expect(docs.edit('alice:secret', 'x')).resolves.toBe('doc:alice%3Asecret:x');
      // Characters a lock key cannot hold raw ({ } * ?) are encoded, not rejected.
      await expect(docs.edit('{a}', '*')).resolves.toBe('doc:%7Ba%7D:%2A');
      const error = await rejectionOf(docs.edit('a'.repeat(MAX_ID_LENGTH), 'x'));
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect(error).toMatchObject({ part: 'key' });
      expect(docs.runs).toBe(3);
    } finally {
      await booted.close();
    }
  });
});

describe('cache decorators: metadata', () => {
  it("keeps other decorators' metadata on the method, whichever side they sit, and its name", () => {
    const { decoratedAbove, decoratedBelow, stacked } = CrewConfigs.prototype;
    expect(Reflect.getMetadata('test:role', decoratedAbove)).toBe('admin');
    expect(Reflect.getMetadata('test:marked', decoratedAbove)).toBe('above');
    expect(Reflect.getMetadata('test:role', decoratedBelow)).toBe('admin');
    expect(Reflect.getMetadata('test:marked', decoratedBelow)).toBe('below');
    expect(Reflect.getMetadata('test:design', CrewConfigs.prototype, 'decoratedBelow')).toBe('kept');
    expect([decoratedAbove.name, decoratedBelow.name, stacked.name]).toEqual(['decoratedAbove', 'decoratedBelow', 'stacked']);
    expect(Reflect.getMetadata('coordination:cache-put', stacked)).toBeDefined();
    expect(Reflect.getMetadata('coordination:cache-evict', stacked)).toBeDefined();
  });
});

describe('cache decorators: options checked when the class is defined', () => {
  const cases: Array<[string, () => unknown, string]> = [
    ['an empty key', () => Cacheable({ key: '' }), 'key'],
    ['no key', () => Cacheable({} as never), 'key'],
    ['a negative ttlMs', () => Cacheable({ key: 'k', ttlMs: -1 }), 'ttlMs'],
    ['a NaN staleMs', () => Cacheable({ key: 'k', staleMs: Number.NaN }), 'staleMs'],
    ['an empty tag', () => Cacheable({ key: 'k', tags: ['t', ''] }), 'tags[1]'],
    ['tags that are a string', () => Cacheable({ key: 'k', tags: 'crew' as never }), 'tags'],
    ['a non-boolean l1', () => Cacheable({ key: 'k', l1: 'yes' as never }), 'l1'],
    ['an unknown option', () => Cacheable({ key: 'k', ttl: 5 } as never), 'options.ttl'],
    ['no options object', () => Cacheable(undefined as never), 'options'],
    ['an eviction of nothing', () => CacheEvict({}), 'options'],
    ['an eviction with a bad pattern list', () => CacheEvict({ patterns: [7] as never }), 'patterns[0]'],
    ['a non-boolean beforeInvocation', () => CacheEvict({ tags: ['t'], beforeInvocation: 1 as never }), 'beforeInvocation'],
    ['a put without key', () => CachePut({ ttlMs: 5 } as never), 'key'],
    ['a put with ttlMs 0', () => CachePut({ key: 'k', ttlMs: 0 }), 'ttlMs'],
    ['a key whose placeholders nothing separates', () => Cacheable({ key: 'doc:{0}{1}' }), 'key'],
    ['a tag whose placeholders only a hyphen separates', () => Cacheable({ key: 'k', tags: ['t:{0}-{1}'] }), 'tags[0]'],
    ['an eviction key whose placeholders nothing separates', () => CacheEvict({ keys: ['{0}{1}'] }), 'keys[0]'],
  ];
  it.each(cases)('rejects %s, naming the option', (_name, decorate, argument) => {
    let error: unknown;
    try {
      decorate();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument });
  });

  it('rejects a static method, pointing to the service', () => {
    expect(() => {
      class Nightly {
        @Cacheable({ key: 'nightly' })
        static async run(): Promise<void> {}
      }
      return Nightly;
    }).toThrow('@Cacheable() on Nightly.run: static methods have no instance for Nest to inject CacheService into; use CacheService.getOrSet()');
  });
});

describe('cache decorators: binding to CacheService', () => {
  const coordination = (options: CoordinationModuleOptions = {}) =>
    CoordinationModule.forRoot({ driver: 'memory', health: { pingIntervalMs: 0 }, prefix: uniquePrefix('cdb'), ...options });

  it('fails the boot for a useFactory provider, naming the class, its decorated methods and the fix', async () => {
    const error = await bootFailure({ imports: [coordination()], providers: [{ provide: 'CONFIGS', useFactory: () => new CrewConfigs() }] });
    expect(error.message).toMatch(/without a CacheService/);
    expect(error.message).toMatch(/CrewConfigs \(provider CONFIGS of module RootTestModule\): @Cacheable\(\) on config, members, decoratedAbove, decoratedBelow, doc; @CachePut\(\) on save, saveNothing, stacked; @CacheEvict\(\) on rename/);
    expect(error.message).toMatch(/created by a factory \(useFactory\).*use a class provider/s);
  });

  it('fails the boot for a useValue provider', async () => {
    const error = await bootFailure({ imports: [coordination()], providers: [{ provide: CrewConfigs, useValue: new CrewConfigs() }] });
    expect(error.message).toMatch(/CrewConfigs \(provider CrewConfigs of module RootTestModule\): @Cacheable\(\) on config/);
    expect(error.message).toMatch(/a value \(useValue\)/);
  });

  it('fails the call on an instance created with `new`, naming the fix', async () => {
    await expect(new CrewConfigs().config('c1', ACME)).rejects.toThrow(
      /@Cacheable\(\) on CrewConfigs\.config: this instance has no CacheService\. Let Nest create it/,
    );
  });
});
