import 'reflect-metadata';
import { Controller, Injectable, Module, Post } from '@nestjs/common';
import request from 'supertest';
import { CoordinationModule, LockService, WithLock, type CoordinationModuleOptions } from '@nest-coordination/core';
import { bootApp, bootFailure, bootModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';

/**
 * Nest injects @WithLock's LockService only into instances it builds from a class in a module
 * that can see LockService. Anything else must fail the boot, naming the class and the fix,
 * instead of booting and throwing on the first call.
 */

@Injectable()
class InvoiceWorker {
  @WithLock('invoice:{0}', { waitMs: 0 })
  async charge(id: string): Promise<string | undefined> {
    return `charged ${id}`;
  }
}

/** The decorated method lives on the base class only. */
class LockedBase {
  @WithLock('base:{0}', { waitMs: 0 })
  async run(id: string): Promise<string> {
    return `ran ${id}`;
  }
}

@Injectable()
class InheritingWorker extends LockedBase {}

/** No @WithLock anywhere: a factory or a value may build it freely. */
class PlainClient {
  ping(): string {
    return 'pong';
  }
}

@Controller('binding')
class BindingController {
  @Post()
  @WithLock('binding')
  hit(): string {
    return 'ok';
  }
}

const MEMORY: CoordinationModuleOptions = { health: { pingIntervalMs: 0 } };

const coordination = (options: CoordinationModuleOptions = {}) => CoordinationModule.forRoot({ ...MEMORY, prefix: uniquePrefix('wlb'), ...options });

describe('@WithLock binding at boot', () => {
  it('fails the boot for a useFactory provider with a @WithLock method, naming the class and the fix', async () => {
    const error = await bootFailure({
      imports: [coordination()],
      providers: [{ provide: 'INVOICES', useFactory: () => new InvoiceWorker() }],
    });
    expect(error.message).toMatch(/InvoiceWorker \(provider INVOICES of module RootTestModule\): @WithLock\(\) on charge/);
    expect(error.message).toMatch(/created by a factory \(useFactory\).*use a class provider.*locks\.withLock\(\)/s);
  });

  it('fails the boot for a useValue provider with a @WithLock method', async () => {
    const error = await bootFailure({
      imports: [coordination()],
      providers: [{ provide: InvoiceWorker, useValue: new InvoiceWorker() }],
    });
    expect(error.message).toMatch(/InvoiceWorker \(provider InvoiceWorker of module RootTestModule\): @WithLock\(\) on charge/);
    expect(error.message).toMatch(/a value \(useValue\)/);
  });

  it('fails the boot for an inherited @WithLock method on a factory-made instance, naming the subclass', async () => {
    const error = await bootFailure({
      imports: [coordination()],
      providers: [{ provide: 'INHERITING', useFactory: () => new InheritingWorker() }],
    });
    expect(error.message).toMatch(/InheritingWorker \(provider INHERITING of module RootTestModule\): @WithLock\(\) on run/);
  });

  it('fails the boot for a class provider whose module cannot see a non-global CoordinationModule', async () => {
    @Module({ providers: [InvoiceWorker] })
    class BillingModule {}
    const error = await bootFailure({ imports: [coordination({ isGlobal: false }), BillingModule] });
    expect(error.message).toMatch(/InvoiceWorker \(provider InvoiceWorker of module BillingModule\): @WithLock\(\) on charge/);
    expect(error.message).toMatch(/import CoordinationModule in BillingModule/);
  });

  it('fails the boot for a controller whose module cannot see a non-global CoordinationModule', async () => {
    @Module({ controllers: [BindingController] })
    class ApiModule {}
    const error = await bootFailure({ imports: [coordination({ isGlobal: false }), ApiModule] });
    expect(error.message).toMatch(/BindingController \(controller BindingController of module ApiModule\): @WithLock\(\) on hit/);
  });

  it('boots a feature module that imports the non-global CoordinationModule itself', async () => {
    const options = coordination({ isGlobal: false });
    @Module({ imports: [options], providers: [InvoiceWorker], exports: [InvoiceWorker] })
    class BillingModule {}
    const booted = await bootModule(null, { imports: [options, BillingModule] });
    try {
      await expect(booted.get(InvoiceWorker).charge('7')).resolves.toBe('charged 7');
    } finally {
      await booted.close();
    }
  });

  it('boots and runs useClass, inherited and controller bindings, with factory and value providers of plain classes alongside', async () => {
    const { app, get, close } = await bootApp(MEMORY, {
      providers: [
        { provide: 'INVOICES', useClass: InvoiceWorker },
        InheritingWorker,
        { provide: PlainClient, useFactory: () => new PlainClient() },
        { provide: 'PLAIN_VALUE', useValue: new PlainClient() },
        { provide: 'NULL_VALUE', useValue: null },
        { provide: 'BARE_OBJECT', useValue: Object.create(null) as object },
      ],
      controllers: [BindingController],
    });
    try {
      await expect(get<InvoiceWorker>('INVOICES').charge('1')).resolves.toBe('charged 1');
      await expect(get(InheritingWorker).run('2')).resolves.toBe('ran 2');
      await request(app.getHttpServer()).post('/binding').expect(201);
      expect(get(PlainClient).ping()).toBe('pong');
      expect(get(LockService).held()).toEqual([]);
    } finally {
      await close();
    }
  });

  it("checks only its own application: a misconfigured app in the same process leaves another one's boot alone", async () => {
    const [broken, healthy] = await Promise.allSettled([
      bootFailure({ imports: [coordination()], providers: [{ provide: 'INVOICES', useFactory: () => new InvoiceWorker() }] }),
      bootModule(MEMORY, { providers: [InvoiceWorker, { provide: PlainClient, useFactory: () => new PlainClient() }] }),
    ]);
    expect(broken.status === 'fulfilled' && broken.value.message).toMatch(/InvoiceWorker \(provider INVOICES/);
    expect(healthy.status).toBe('fulfilled');
    if (healthy.status !== 'fulfilled') return;
    try {
      await expect(healthy.value.get(InvoiceWorker).charge('3')).resolves.toBe('charged 3');
    } finally {
      await healthy.value.close();
    }
  });
});

describe('@WithLock on a static method', () => {
  it('throws when the class is defined, pointing to LockService.withLock()', () => {
    expect(() => {
      class Nightly {
        @WithLock('nightly')
        static async run(): Promise<void> {}
      }
      return Nightly;
    }).toThrow(
      '@WithLock() on Nightly.run: static methods have no instance for Nest to inject LockService into; use LockService.withLock()',
    );
  });
});
