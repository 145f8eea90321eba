import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { StreamService } from '@nest-coordination/core';
import request from 'supertest';
import { RUN_HISTORY_GROUP } from '../../apps/demo/src/crews/crew-run-history.service.js';
import { CREW_RUN_EVENTS } from '../../apps/demo/src/crews/crew-run-events.js';
import { CrewStore } from '../../apps/demo/src/crews/crew-store.js';
import { demoConfigFromEnv, type DemoConfig } from '../../apps/demo/src/demo.config.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { as, bootDemo, recordedRun } from './demo-test-app.js';

const BOB = as('u-bob', 'acme');

describe('demo config: COORD_INSTANCE_ID', () => {
  it('names the instance (its stream consumers) when set, and leaves the library default otherwise', () => {
    expect(demoConfigFromEnv({ COORD_INSTANCE_ID: ' web-1.eu:a_b ' }).coordination.instanceId).toBe('web-1.eu:a_b');
    expect(demoConfigFromEnv({}).coordination.instanceId).toBeUndefined();
    expect(demoConfigFromEnv({ COORD_INSTANCE_ID: '' }).coordination.instanceId).toBeUndefined();
  });

  it.each(['web 1', '-web', 'web/1', 'é', 'x'.repeat(129)])('refuses %j at boot, naming the variable', (value) => {
    expect(() => demoConfigFromEnv({ COORD_INSTANCE_ID: value })).toThrow(/COORD_INSTANCE_ID must be 1-128 letters, digits/);
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: a replica restarted under its COORD_INSTANCE_ID ($name)', (driver) => {
  const apps: INestApplication[] = [];
  // No other consumer reclaims an entry within the test: only the restarted replica itself can handle it again.
  const configure = (config: DemoConfig): DemoConfig => ({ ...config, coordination: { ...config.coordination, streams: { consumerDefaults: { claimIdleMs: 120_000 } } } });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it('handles the run events it left pending first thing after the restart', async () => {
    const prefix = uniquePrefix('demo');
    const env = { COORD_INSTANCE_ID: 'replica-1' };
    const before = (await bootDemo(driver, { prefix, env, configure })).app;
    apps.push(before);
    // Its history write fails (the crew store is down): the event stays pending for this consumer.
    jest.spyOn(before.get(CrewStore), 'saveRun').mockRejectedValue(new Error('the crew store is down'));
    const run = (await request(before.getHttpServer()).post('/crews/support-triage/runs?durationMs=0').set(BOB).expect(201)).body as { id: string };
    const streams = before.get(StreamService);
    await until(async () => (await streams.pending(CREW_RUN_EVENTS, RUN_HISTORY_GROUP, { tenant: 'acme' })).count === 1, {
      timeoutMs: 10_000, message: 'the run event pending after its failed write',
    });
    expect((await streams.pending(CREW_RUN_EVENTS, RUN_HISTORY_GROUP, { tenant: 'acme' })).consumers).toEqual({ 'replica-1': 1 });
    await before.close();
    apps.splice(apps.indexOf(before), 1);

    // The same replica again (new process, same name): it drains its own pending entries as it starts.
    const after = (await bootDemo(driver, { prefix, env, configure })).app;
    apps.push(after);
    expect(await recordedRun(after, BOB, 'support-triage', run.id)).toMatchObject({ status: 'succeeded', triggeredBy: 'u-bob' });
  });
});
