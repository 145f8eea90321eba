import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { COMPANY_HEADER, USER_HEADER } from '../../apps/demo/src/demo.config.js';
import { DEMO_BACKENDS, as, bootDemo } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');

describe.each(DEMO_BACKENDS)('demo app: hostile and mistaken input ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  const publishRaw = (body: string) =>
    request(app.getHttpServer()).post('/crews/market-research/events').set(ADA).set('content-type', 'application/json').send(body);

  it('answers a body nested 40 000 deep with 400 problem+json, not a 500', async () => {
    const depth = 40_000;
    for (const body of ['['.repeat(depth) + ']'.repeat(depth), `{"type":"progress","data":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`]) {
      const res = await publishRaw(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 400, code: 'E_INVALID_ARGUMENT', argument: 'body' });
      expect(res.body.detail).toContain('32');
    }
  });

  it('accepts a body within the nesting limit', async () => {
    const nested = JSON.parse(`${'{"a":'.repeat(30)}1${'}'.repeat(30)}`);
    await request(app.getHttpServer()).post('/crews/market-research/events').set(ADA).send({ type: 'progress', data: nested }).expect(202);
  });

  it('does not echo an 8 KB x-user-id back: the 401 quotes its first 64 characters and its length', async () => {
    const userId = `u-${'x'.repeat(8_190)}`;
    const res = await request(app.getHttpServer()).get('/crews').set({ [USER_HEADER]: userId, [COMPANY_HEADER]: 'acme' }).expect(401);
    expect(res.body.message).toContain(userId.slice(0, 64));
    expect(res.body.message).not.toContain(userId.slice(0, 65));
    expect(res.body.message).toContain('8192 characters');
    expect(JSON.stringify(res.body).length).toBeLessThan(300);
    // A short unknown id is quoted as it is.
    const short = await request(app.getHttpServer()).get('/crews').set(as('u-nobody', 'acme')).expect(401);
    expect(short.body.message).toBe('Unknown user "u-nobody"');
  });

  it('takes sinceMs of the violations route as a time since the epoch, and says so when given a duration', async () => {
    await request(app.getHttpServer()).get(`/limits/violations?sinceMs=${Date.now() - 60_000}`).set(ADA).expect(200);
    for (const sinceMs of ['60000', '1700000000', '', '-1', 'soon', '1e300']) {
      const res = await request(app.getHttpServer()).get(`/limits/violations?sinceMs=${sinceMs}`).set(ADA).expect(400);
      expect(JSON.stringify(res.body.message)).toContain('sinceMs must be a time in ms since the epoch');
    }
  });
});
