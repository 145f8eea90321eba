import 'reflect-metadata';
import { Controller, Injectable, Param, Post } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { Test } from '@nestjs/testing';
import { CoordinationModule, LockService, LockTimeoutError, WithLock } from '@nest-coordination/core';
import { uniquePrefix } from '../support/drivers.js';

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

describe('@WithLock', () => {
  it('keeps route metadata and the name of the decorated handler', () => {
    expect(Reflect.getMetadata(PATH_METADATA, JobsController.prototype.run)).toBe(':id');
    expect(JobsController.prototype.run.name).toBe('run');
  });

  it('binds each instance to the LockService of its own module', async () => {
    const boot = async () => {
      const ref = await Test.createTestingModule({
        imports: [CoordinationModule.forRoot({ driver: 'memory', prefix: uniquePrefix('wl') })],
        providers: [ReportWorker],
      }).compile();
      return ref.init();
    };
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
});
