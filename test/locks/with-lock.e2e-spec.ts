import 'reflect-metadata';
import { Controller, Inject, Injectable, Param, Post, Scope } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { ContextIdFactory } from '@nestjs/core';
import request from 'supertest';
import { LockService, LockTimeoutError, WithLock } from '@nest-coordination/core';
import { bootApp, bootModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

@Injectable()
class ReportWorker {
  runs = 0;
  /** Resolves when a build has entered its critical section. */
  entered!: Promise<void>;
  private enter!: () => void;
  private finish!: () => void;
  private finished!: Promise<void>;

  constructor() {
    this.entered = new Promise((resolve) => (this.enter = resolve));
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }

  /** Lets the build that is inside its critical section return. */
  release(): void {
    this.finish();
  }

  @WithLock((id: string) => `report:${id}`, { waitMs: 0 })
  async build(id: string, hold: boolean): Promise<string> {
    this.runs += 1;
    if (hold) {
      this.enter();
      await this.finished;
    }
    return `report ${id}`;
  }
}

@Controller('jobs')
class JobsController {
  @Post(':id')
  @WithLock('job:{0}')
  run(@Param('id') id: string): string {
    return id;
  }
}

/** Reports the lock its @WithLock method runs under, through its own module's LockService. */
@Injectable({ scope: Scope.REQUEST })
class ScopedWorker {
  constructor(@Inject(LockService) private readonly locks: LockService) {}

  @WithLock('scoped:{0}', { waitMs: 0 })
  async run(_id: string, inside?: Promise<void>): Promise<string | undefined> {
    await inside;
    return this.locks.current()?.key;
  }
}

@Controller('fenced')
class FencedController {
  constructor(@Inject(LockService) private readonly locks: LockService) {}

  @Post(':id')
  @WithLock('fenced:{0}')
  write(@Param('id') id: string): { id: string; key?: string; fencingToken?: number } {
    const lock = this.locks.current();
    return { id, key: lock?.key, fencingToken: lock?.fencingToken };
  }
}

describe('@WithLock', () => {
  it('keeps route metadata and the name of the decorated handler', () => {
    expect(Reflect.getMetadata(PATH_METADATA, JobsController.prototype.run)).toBe(':id');
    expect(JobsController.prototype.run.name).toBe('run');
  });

  it('binds each instance to the LockService of its own module', async () => {
    const boot = () => bootModule({ driver: 'memory', prefix: uniquePrefix('wl') }, { providers: [ReportWorker] });
    const [one, two] = await Promise.all([boot(), boot()]);
    try {
      const [w1, w2] = [one.get(ReportWorker), two.get(ReportWorker)];
      const running = w1.build('q3', true);
      await w1.entered;
      expect(one.get(LockService).held().map((l) => l.key)).toEqual(['report:q3']);
      await expect(w1.build('q3', false)).rejects.toBeInstanceOf(LockTimeoutError);
      // Another module instance with its own memory store: not excluded by the first one's lock.
      await expect(w2.build('q3', false)).resolves.toBe('report q3');
      w1.release();
      await expect(running).resolves.toBe('report q3');
      expect(one.get(LockService).held()).toEqual([]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it("binds request-scoped instances to their own module's LockService too", async () => {
    const boot = () => bootModule({ driver: 'memory', prefix: uniquePrefix('wl') }, { providers: [ScopedWorker] });
    const [one, two] = await Promise.all([boot(), boot()]);
    try {
      const [a, b] = await Promise.all([
        one.moduleRef.resolve(ScopedWorker, ContextIdFactory.create()),
        one.moduleRef.resolve(ScopedWorker, ContextIdFactory.create()),
      ]);
      expect(a).not.toBe(b);
      let proceed!: () => void;
      const holding = a.run('x', new Promise((resolve) => (proceed = resolve)));
      await until(() => one.get(LockService).held().length === 1, { timeoutMs: 5_000, message: 'the first call to hold scoped:x' });
      // Same module, another request: excluded. The other module: a lock of its own.
      await expect(b.run('x')).rejects.toBeInstanceOf(LockTimeoutError);
      const other = await two.moduleRef.resolve(ScopedWorker, ContextIdFactory.create());
      await expect(other.run('x')).resolves.toBe('scoped:x');
      proceed();
      await expect(holding).resolves.toBe('scoped:x');
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it("runs a controller's handler under the lock, reachable through LockService.current()", async () => {
    const { app, get, close } = await bootApp({ driver: 'memory' }, { controllers: [FencedController] });
    try {
      const response = await request(app.getHttpServer()).post('/fenced/7').expect(201);
      expect(response.body).toEqual({ id: '7', key: 'fenced:7', fencingToken: expect.any(Number) });
      expect(get(LockService).held()).toEqual([]);
    } finally {
      await close();
    }
  });

  it('fails on an instance created with `new`, naming the fix', async () => {
    await expect(new ReportWorker().build('q3', false)).rejects.toThrow(/ReportWorker\.build: this instance has no LockService\. Let Nest create it/);
  });
});
