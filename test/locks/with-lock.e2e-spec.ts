import 'reflect-metadata';
import { Injectable, type INestApplication } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { Test } from '@nestjs/testing';
import { CoordinationModule, LockService, LockTimeoutError, WithLock } from '@nest-coordination/core';
import request from 'supertest';
import { AppModule } from '../../apps/demo/src/app.module.js';
import { COMPANY_HEADER } from '../../apps/demo/src/demo.config.js';
import { CrewRunsController } from '../../apps/demo/src/locks/crew-runs.controller.js';
import { uniquePrefix } from '../support/drivers.js';
import { sleep } from './lock-test-app.js';

@Injectable()
class ReportWorker {
  runs = 0;
  @WithLock((id: string) => `report:${id}`, { waitMs: 0 })
  async build(id: string, ms: number): Promise<string> {
    this.runs += 1;
    await sleep(ms);
    return `report ${id}`;
  }
}

describe('@WithLock', () => {
  it('keeps route metadata of the decorated handler', () => {
    expect(Reflect.getMetadata(PATH_METADATA, CrewRunsController.prototype.run)).toBe(':crewId');
    expect(CrewRunsController.prototype.run.name).toBe('run');
  });

  it('binds each instance to the LockService of its own module', async () => {
    const boot = async () => {
      const ref = await Test.createTestingModule({
        imports: [CoordinationModule.forRoot({ driver: 'memory', keyPrefix: uniquePrefix('wl') })],
        providers: [ReportWorker],
      }).compile();
      return ref.init();
    };
    const [one, two] = await Promise.all([boot(), boot()]);
    try {
      const [w1, w2] = [one.get(ReportWorker), two.get(ReportWorker)];
      const running = w1.build('q3', 200);
      await sleep(20);
      expect(one.get(LockService).held().map((l) => l.key)).toEqual(['report:q3']);
      await expect(w1.build('q3', 0)).rejects.toBeInstanceOf(LockTimeoutError);
      // Another module instance with its own memory store: not excluded by the first one's lock.
      await expect(w2.build('q3', 0)).resolves.toBe('report q3');
      await expect(running).resolves.toBe('report q3');
      expect(one.get(LockService).held()).toEqual([]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  describe('demo crew runs', () => {
    let app: INestApplication;
    beforeAll(async () => {
      const ref = await Test.createTestingModule({
        imports: [AppModule.register({ coordination: { driver: 'memory', keyPrefix: uniquePrefix('demo'), tenancy: { header: COMPANY_HEADER } } })],
      }).compile();
      app = ref.createNestApplication();
      await app.init();
    });
    afterAll(async () => {
      await app.close();
    });

    it('runs one run per crew at a time (409 for the second) and lists the held lock', async () => {
      const server = app.getHttpServer();
      const first = request(server).post('/crew-runs/market-research?durationMs=400').set(COMPANY_HEADER, 'acme').then((r) => r);
      await sleep(100);
      const busy = await request(server).post('/crew-runs/market-research?durationMs=0').set(COMPANY_HEADER, 'acme');
      expect(busy.status).toBe(409);
      expect(busy.body.code).toBe('E_LOCK_TIMEOUT');
      const held = await request(server).get('/crew-runs/locks').set(COMPANY_HEADER, 'acme');
      expect(held.status).toBe(200);
      expect(held.body).toEqual([expect.objectContaining({ key: 'crew-run:market-research', tenant: 'acme', kind: 'mutex', renewals: 0 })]);
      const other = await request(server).get('/crew-runs/locks').set(COMPANY_HEADER, 'globex');
      expect(other.body).toEqual([]);
      expect((await first).status).toBe(201);
      const again = await request(server).post('/crew-runs/market-research?durationMs=0').set(COMPANY_HEADER, 'acme');
      expect(again.status).toBe(201);
      expect(again.body).toMatchObject({ crewId: 'market-research', status: 'completed' });
    });
  });
});
