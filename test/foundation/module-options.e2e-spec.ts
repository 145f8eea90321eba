import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { CoordinationModule, InvalidOptionsError, type CoordinationModuleOptions, type CoordinationOptionsFactory } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import { bootModule, type BootedModule, type BootExtras } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';

const CONFIG = Symbol('CONFIG');

@Injectable()
class OptionsFromClass implements CoordinationOptionsFactory {
  createCoordinationOptions(): CoordinationModuleOptions {
    return { prefix: 'fromclass', instanceId: 'class-1' };
  }
}

@Injectable()
class SharedOptionsFactory implements CoordinationOptionsFactory {
  async createCoordinationOptions(): Promise<CoordinationModuleOptions> {
    return { prefix: 'fromexisting', tenancy: { required: true } };
  }
}

@Module({
  providers: [SharedOptionsFactory, { provide: CONFIG, useValue: { prefix: 'fromfactory' } }],
  exports: [SharedOptionsFactory, CONFIG],
})
class ConfigModule {}

describe('CoordinationModule options at boot', () => {
  const opened: BootedModule[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((m) => m.close()));
  });

  /** Boots `imports` as they are: each test passes its own CoordinationModule.forRoot / forRootAsync. */
  async function boot(imports: BootExtras['imports']): Promise<BootedModule> {
    const booted = await bootModule(null, { imports });
    opened.push(booted);
    return booted;
  }

  it('fails boot on an invalid option with a message naming it and the allowed values', async () => {
    const booting = bootModule(null, { imports: [CoordinationModule.forRoot({ driver: 'mongo' as never })] });
    await expect(booting).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(booting).rejects.toThrow(/driver: must be one of the following values: redis, memory/);
  });

  it('boots with forRoot and applies the options', async () => {
    const prefix = uniquePrefix('opts');
    const core = (await boot([CoordinationModule.forRoot({ prefix })])).get(CoordinationCore);
    expect(core.driver).toBe('memory');
    expect(core.connection).toBeNull();
    expect(core.keys.key('acme', 'lock', 'r')).toBe(`${prefix}:acme:lock:{r}`);
  });

  it('resolves options from useFactory with injected dependencies', async () => {
    const moduleRef = await boot([
      CoordinationModule.forRootAsync({
        imports: [ConfigModule],
        inject: [CONFIG],
        useFactory: async (config: { prefix: string }) => ({ prefix: config.prefix }),
      }),
    ]);
    expect(moduleRef.get(CoordinationCore).options.prefix).toBe('fromfactory');
  });

  it('resolves options from useClass', async () => {
    const core = (await boot([CoordinationModule.forRootAsync({ useClass: OptionsFromClass })])).get(CoordinationCore);
    expect(core.options.prefix).toBe('fromclass');
    expect(core.instanceId).toBe('class-1');
  });

  it('resolves options from useExisting, a provider of an imported module', async () => {
    const moduleRef = await boot([CoordinationModule.forRootAsync({ imports: [ConfigModule], useExisting: SharedOptionsFactory })]);
    const core = moduleRef.get(CoordinationCore);
    expect(core.options.prefix).toBe('fromexisting');
    expect(core.tenants.isRequired).toBe(true);
  });

  it('fails boot when an async factory returns invalid options', async () => {
    const booting = bootModule(null, {
      imports: [CoordinationModule.forRootAsync({ useFactory: () => ({ breaker: { failureThreshold: 0 } }) })],
    });
    await expect(booting).rejects.toThrow(/breaker\.failureThreshold: must not be less than 1/);
  });

  it('requires one of useFactory, useClass or useExisting', () => {
    expect(() => CoordinationModule.forRootAsync({})).toThrow(/useFactory, useClass or useExisting/);
  });

  it('keeps two module instances in one process apart', async () => {
    const [a, b] = await Promise.all([
      boot([CoordinationModule.forRoot({ prefix: 'one', instanceId: 'a' })]),
      boot([CoordinationModule.forRoot({ prefix: 'two', instanceId: 'b' })]),
    ]);
    const coreA = a.get(CoordinationCore);
    const coreB = b.get(CoordinationCore);
    expect(coreA).not.toBe(coreB);
    expect([coreA.instanceId, coreB.instanceId]).toEqual(['a', 'b']);
    expect(coreA.metrics).not.toBe(coreB.metrics);
    coreA.metrics.increment('x');
    expect(coreB.metrics.counter('x')).toBe(0);
  });
});
