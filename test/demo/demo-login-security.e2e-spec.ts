import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { SESSION_COOKIE, demoConfigFromEnv, type DemoConfig } from '../../apps/demo/src/demo.config.js';
import { ADA_LOGIN, clearsSessionCookie, sessionSetCookie, withDemo } from './demo-login-support.js';
import { DEMO_BACKENDS, bootDemo } from './demo-test-app.js';

/** Logins one client IP may make a minute (`login-ip` on AuthController.login). */
const LOGINS_PER_IP = 20;

/** The demo's configuration with `TRUSTED_PROXIES` set as in the environment. */
const behindProxies = (trustedProxies: string) => (config: DemoConfig): DemoConfig => ({ ...config, http: demoConfigFromEnv({ TRUSTED_PROXIES: trustedProxies }).http });

/** The statuses of `LOGINS_PER_IP + 1` logins, each from another client as the proxy reports it (`X-Forwarded-For`). */
async function loginsFromDistinctClients(app: INestApplication): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 1; i <= LOGINS_PER_IP + 1; i++) {
    const res = await request(app.getHttpServer()).post('/auth/login').set('x-forwarded-for', `203.0.113.${i}`).send(ADA_LOGIN);
    statuses.push(res.status);
  }
  return statuses;
}

describe.each(DEMO_BACKENDS)('demo login: the per-IP limit behind a proxy ($name)', (driver) => {
  it('with TRUSTED_PROXIES naming the proxy (here the loopback), each forwarded client has its own 20 a minute', async () => {
    await withDemo(driver, { configure: behindProxies('127.0.0.1') }, async (app) => {
      expect(await loginsFromDistinctClients(app)).toEqual(Array(LOGINS_PER_IP + 1).fill(201));
    });
    await withDemo(driver, { configure: behindProxies('loopback') }, async (app) => {
      expect(await loginsFromDistinctClients(app)).toEqual(Array(LOGINS_PER_IP + 1).fill(201));
    });
  });

  it('without TRUSTED_PROXIES, or from a peer it does not name, X-Forwarded-For is ignored: the 21st login is 429', async () => {
    for (const configure of [undefined, behindProxies('10.0.0.1')]) {
      await withDemo(driver, { configure }, async (app) => {
        const statuses = await loginsFromDistinctClients(app);
        expect(statuses.slice(0, LOGINS_PER_IP)).toEqual(Array(LOGINS_PER_IP).fill(201));
        expect(statuses[LOGINS_PER_IP]).toBe(429);
      });
    }
  });
});

describe.each(DEMO_BACKENDS)('demo login: cross-site requests and the session token ($name)', (driver) => {
  let app: INestApplication;
  let origin: string;

  beforeAll(async () => {
    let port: number;
    ({ app, port } = await bootDemo(driver));
    origin = `http://127.0.0.1:${port}`; // supertest's Host header is 127.0.0.1:<port>
  });

  afterAll(async () => {
    await app?.close();
  });

  const login = (path = '/auth/login') => request(app.getHttpServer()).post(path);

  it('refuses a cross-site login (Sec-Fetch-Site, else an Origin other than the Host) with 403 and no cookie', async () => {
    const refused = [
      login().set('sec-fetch-site', 'cross-site').send(ADA_LOGIN),
      login().set('sec-fetch-site', 'same-site').send(ADA_LOGIN),
      login().set('sec-fetch-site', 'cross-site').set('origin', origin).send(ADA_LOGIN),
      login().set('origin', 'https://attacker.example').send(ADA_LOGIN),
      login().set('origin', 'null').send(ADA_LOGIN),
    ];
    for (const pending of refused) {
      const res = await pending;
      expect(res.status).toBe(403);
      expect(sessionSetCookie(res)).toBeUndefined();
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('accepts a same-origin login, and one without Origin or Sec-Fetch-Site (scripts)', async () => {
    const accepted = [
      login().set('origin', origin).send(ADA_LOGIN),
      login().set('sec-fetch-site', 'same-origin').set('origin', origin).send(ADA_LOGIN),
      // The browser's word decides: a proxy that rewrote Host does not turn a same-origin form into a refusal.
      login().set('sec-fetch-site', 'same-origin').set('origin', 'https://demo.example').send(ADA_LOGIN),
      login().send(ADA_LOGIN),
    ];
    for (const pending of accepted) {
      const res = await pending;
      expect(res.status).toBe(201);
      expect(sessionSetCookie(res)).toBeDefined();
    }
  });

  it('accepts only JSON bodies: a form post (urlencoded, text/plain, multipart) is 415 with no cookie', async () => {
    const forms = [
      login().type('form').send(ADA_LOGIN),
      login().set('content-type', 'text/plain').send(JSON.stringify(ADA_LOGIN)),
      login().field('userId', 'u-ada').field('companyId', 'acme'),
    ];
    for (const pending of forms) {
      const res = await pending;
      expect(res.status).toBe(415);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    await login().set('content-type', 'application/json; charset=utf-8').send(JSON.stringify(ADA_LOGIN)).expect(201);
  });

  it('refuses a cross-site logout with 403: the session stays live and its cookie is not cleared (second review, finding 13)', async () => {
    const res = await login('/auth/login?token=true').send(ADA_LOGIN).expect(201);
    const cookie = sessionSetCookie(res)!.split(';')[0];
    const logout = () => request(app.getHttpServer()).post('/auth/logout').set('cookie', cookie);
    const refused = [
      logout().set('sec-fetch-site', 'cross-site').type('form').send({}),
      logout().set('sec-fetch-site', 'same-site'),
      logout().set('origin', 'https://attacker.example'),
      logout().set('origin', 'null'),
    ];
    for (const pending of refused) {
      const answer = await pending;
      expect(answer.status).toBe(403);
      expect(answer.headers['set-cookie']).toBeUndefined();
    }
    await request(app.getHttpServer()).get('/crews').set('cookie', cookie).expect(200);
    // Only the cross-site rule: a same-origin logout needs no JSON body (a form post is fine).
    const out = await logout().set('sec-fetch-site', 'same-origin').set('origin', origin).type('form').send({}).expect(204);
    expect(clearsSessionCookie(sessionSetCookie(out))).toBe(true);
    await request(app.getHttpServer()).get('/crews').set('cookie', cookie).expect(401);
  });

  it('answers the bearer token only when asked (?token=true): never to a default login, which gets the cookie only', async () => {
    const plain = await login().send(ADA_LOGIN).expect(201);
    expect(plain.body).not.toHaveProperty('token');
    expect(Object.keys(plain.body).sort()).toEqual(['absoluteExpiresAt', 'companyId', 'expiresAt', 'handle', 'userId']);
    const cookieValue = decodeURIComponent(sessionSetCookie(plain)!.split(';')[0].slice(SESSION_COOKIE.length + 1));
    // Nothing in the body is the session id the cookie carries (`s:<id>.<signature>`).
    const id = cookieValue.slice(2, cookieValue.lastIndexOf('.'));
    expect(JSON.stringify(plain.body)).not.toContain(id.slice(id.indexOf('.') + 1));

    const script = await login('/auth/login?token=true').send(ADA_LOGIN).expect(201);
    expect(script.body.token).toEqual(expect.any(String));
    const crews = await request(app.getHttpServer()).get('/crews').set('authorization', `Bearer ${script.body.token}`).expect(200);
    expect(crews.body.map((c: { id: string }) => c.id).sort()).toEqual(['market-research', 'support-triage']);

    const declined = await login('/auth/login?token=false').send(ADA_LOGIN).expect(201);
    expect(declined.body).not.toHaveProperty('token');
    await login('/auth/login?token=yes').send(ADA_LOGIN).expect(400);
  });
});

describe.each(DEMO_BACKENDS)('demo logout without a live session ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  const http = () => request(app.getHttpServer());

  async function login(): Promise<{ cookie: string; token: string }> {
    const res = await http().post('/auth/login?token=true').send(ADA_LOGIN).expect(201);
    return { cookie: sessionSetCookie(res)!.split(';')[0], token: res.body.token };
  }

  it('with a dead cookie (ended, forged) or none at all: 204 and the cookie cleared, so a stale one does not linger', async () => {
    const ended = await login();
    await http().post('/auth/logout').set('cookie', ended.cookie).expect(204);
    const [name, value] = ended.cookie.split('=');
    const forged = `${name}=${value.slice(0, -3)}${value.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    for (const cookie of [ended.cookie, forged, undefined]) {
      const pending = http().post('/auth/logout');
      const res = await (cookie === undefined ? pending : pending.set('cookie', cookie));
      expect(res.status).toBe(204);
      expect(clearsSessionCookie(sessionSetCookie(res))).toBe(true);
    }
  });

  it('ends the session of a bearer token, and of a live cookie sent with a dead bearer token', async () => {
    const byBearer = await login();
    await http().post('/auth/logout').set('authorization', `Bearer ${byBearer.token}`).expect(204);
    await http().get('/crews').set('authorization', `Bearer ${byBearer.token}`).expect(401);

    const byCookie = await login();
    await http().post('/auth/logout').set('cookie', byCookie.cookie).set('authorization', `Bearer ${byBearer.token}`).expect(204);
    await http().get('/crews').set('cookie', byCookie.cookie).expect(401);
  });
});

describe('demo config: TRUSTED_PROXIES', () => {
  const proxiesOf = (value: string | undefined) => demoConfigFromEnv({ TRUSTED_PROXIES: value }).http.trustedProxies;

  it('lists addresses, CIDR subnets and Express\'s range names, comma-separated; unset or empty trusts none', () => {
    expect(proxiesOf(undefined)).toEqual([]);
    expect(proxiesOf(' ')).toEqual([]);
    expect(proxiesOf(' 10.0.0.0/8, 192.168.1.7 ,loopback, fd00::/8, ::1')).toEqual(['10.0.0.0/8', '192.168.1.7', 'loopback', 'fd00::/8', '::1']);
  });

  it('refuses an entry Express could not use, naming it', () => {
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.0/8/1', '300.1.1.1', 'true', '1']) {
      expect(() => proxiesOf(`loopback,${bad}`)).toThrow(new RegExp(`TRUSTED_PROXIES .*"${bad.replace(/[.*/]/g, '\\$&')}"`));
    }
  });
});
