import type { INestApplication } from '@nestjs/common';
import type request from 'supertest';
import { SESSION_COOKIE } from '../../apps/demo/src/demo.config.js';
import type { DriverCase } from '../support/drivers.js';
import { bootDemo, type DemoBootOptions } from './demo-test-app.js';

/** The `Set-Cookie` line of the demo's session cookie in a response, if any. */
export function sessionSetCookie(res: request.Response): string | undefined {
  const raw = res.headers['set-cookie'] as unknown as string[] | undefined;
  return raw?.find((line) => line.startsWith(`${SESSION_COOKIE}=`));
}

/** The lower-cased attributes of a `Set-Cookie` line (`httponly`, `max-age=...`). */
export function attributes(setCookie: string): string[] {
  return setCookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
}

/** Whether a `Set-Cookie` line removes the session cookie: an empty value that expires at once (`Max-Age=0` or an `Expires` in the past). */
export function clearsSessionCookie(setCookie: string | undefined): boolean {
  if (setCookie === undefined || setCookie.split(';')[0] !== `${SESSION_COOKIE}=`) return false;
  const attrs = attributes(setCookie);
  const expires = attrs.find((a) => a.startsWith('expires='));
  return attrs.includes('max-age=0') || (expires !== undefined && Date.parse(expires.slice('expires='.length)) <= Date.now());
}

/** The JSON body of a seeded user's login. */
export const ADA_LOGIN = { userId: 'u-ada', companyId: 'acme' };

/**
 * Boots a demo of its own for one test (fresh rate-limit counters), runs `test` and closes it.
 *
 * @example
 * await withDemo(driver, {}, async (app) => { await request(app.getHttpServer()).get('/health').expect(200); });
 */
export async function withDemo(driver: DriverCase, options: DemoBootOptions, test: (app: INestApplication, port: number) => Promise<void>): Promise<void> {
  const { app, port } = await bootDemo(driver, options);
  try {
    await test(app, port);
  } finally {
    await app.close();
  }
}
