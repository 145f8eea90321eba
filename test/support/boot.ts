import type { INestApplication, ModuleMetadata, Provider, Type } from '@nestjs/common';
import { Test, type OverrideByFactoryOptions, type TestingModule } from '@nestjs/testing';
import { CoordinationModule, type CoordinationModuleOptions } from '@nest-coordination/core';
import { CoordinationCore } from './internals.js';
import { uniquePrefix } from './drivers.js';

/** What a test adds around CoordinationModule. */
export interface BootExtras {
  imports?: ModuleMetadata['imports'];
  providers?: Provider[];
  controllers?: Type[];
  /**
   * Print Nest's log output (default: silent). Logger calls still happen either way, so a spy
   * on `Logger.prototype` sees them.
   */
  logs?: boolean;
  /**
   * Providers of the module to replace (Nest's `overrideProvider(token).useFactory`), e.g. a
   * store wrapped to count or fail calls: observation and fault injection around the real one.
   */
  overrides?: ReadonlyArray<{ readonly token: unknown } & OverrideByFactoryOptions>;
}

/** An initialised testing module. */
export interface BootedModule {
  readonly moduleRef: TestingModule;
  /** The CoordinationCore of the module (with several CoordinationModules imported, the first Nest finds). */
  readonly core: CoordinationCore;
  get<T>(token: Type<T> | string | symbol): T;
  /** Shuts the module down: releases locks, completes event streams, closes connections. */
  close(): Promise<void>;
}

/** An initialised Nest application (HTTP adapter, global pipes, middleware), not listening. */
export interface BootedApp extends BootedModule {
  readonly app: INestApplication;
}

const SILENT = { log() {}, error() {}, warn() {}, debug() {}, verbose() {} };

/**
 * Builds and initialises a testing module importing `CoordinationModule.forRoot(options)` plus
 * `extras`. Options without a `prefix` get a unique one, so files running in parallel on the
 * shared servers never see each other's keys. Pass `null` when `extras.imports` bring their
 * own CoordinationModule (feature modules, `forRootAsync`, the demo's AppModule).
 *
 * @example
 * const booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } }, { providers: [ReportWorker] });
 * try {
 *   await booted.get(ReportWorker).build('q3');
 * } finally {
 *   await booted.close();
 * }
 */
export async function bootModule(options: CoordinationModuleOptions | null, extras: BootExtras = {}): Promise<BootedModule> {
  const moduleRef = await compile(options, extras);
  await moduleRef.init();
  return booted(moduleRef, moduleRef);
}

/**
 * Like `bootModule`, as a Nest application: for controllers, guards, filters and middleware
 * over HTTP (supertest on `app.getHttpServer()`, or `app.listen(0)` for a real socket).
 * `configure(app)` runs before `init()`, where `main.ts` would add middleware.
 *
 * @example
 * const { app, close } = await bootApp({ connection: { url } }, { controllers: [ReportsController] });
 * await request(app.getHttpServer()).get('/reports').expect(200);
 * await close();
 */
export async function bootApp(
  options: CoordinationModuleOptions | null,
  extras: BootExtras & { configure?(app: INestApplication): void } = {},
): Promise<BootedApp> {
  const moduleRef = await compile(options, extras);
  const app = moduleRef.createNestApplication(extras.logs ? {} : { logger: false });
  extras.configure?.(app);
  await app.init();
  return Object.assign(booted(moduleRef, app), { app });
}

/**
 * The error a testing module of `metadata` fails to boot with (compile or init); fails the test
 * when it boots. For boot-time checks (`@WithLock` or cache decorators on an instance Nest
 * cannot inject into, invalid options).
 *
 * @example
 * const error = await bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory' })], providers: [{ provide: 'X', useFactory: () => new Worker() }] });
 * expect(error.message).toMatch(/without a LockService/);
 */
export async function bootFailure(metadata: ModuleMetadata): Promise<Error> {
  const moduleRef = await Test.createTestingModule(metadata).setLogger(SILENT).compile();
  try {
    await moduleRef.init();
  } catch (error) {
    return error as Error;
  } finally {
    await moduleRef.close();
  }
  throw new Error('the module booted');
}

function compile(options: CoordinationModuleOptions | null, extras: BootExtras): Promise<TestingModule> {
  const root = options ? [CoordinationModule.forRoot({ prefix: uniquePrefix('t'), ...options })] : [];
  const builder = Test.createTestingModule({
    imports: [...root, ...(extras.imports ?? [])],
    providers: extras.providers ?? [],
    controllers: extras.controllers ?? [],
  });
  for (const { token, factory, inject } of extras.overrides ?? []) builder.overrideProvider(token).useFactory({ factory, inject });
  if (!extras.logs) builder.setLogger(SILENT);
  return builder.compile();
}

/** `context` is the module, or the application built on it (which must be the one closed). */
function booted(moduleRef: TestingModule, context: TestingModule | INestApplication): BootedModule {
  return {
    moduleRef,
    get core() {
      return context.get(CoordinationCore);
    },
    get: (token) => context.get(token),
    close: () => context.close(),
  };
}
