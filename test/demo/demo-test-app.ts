import { get, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { AppModule } from '../../apps/demo/src/app.module.js';
import { COMPANY_HEADER, USER_HEADER, demoConfigFromEnv } from '../../apps/demo/src/demo.config.js';
import { testRedisUrl } from '../harness/env.js';
import { bootApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** The demo runs on memory and a standalone Redis here; the cluster is covered by the contract suites. */
export const DEMO_BACKENDS = DRIVERS.filter((d) => d.name !== 'cluster');

/** Boots the demo the way `main.ts` does (from env-style config), on an ephemeral port. */
export async function bootDemo(driver: DriverCase): Promise<{ app: INestApplication; port: number }> {
  const env = driver.name === 'memory' ? {} : { REDIS_URL: testRedisUrl() };
  const config = demoConfigFromEnv({ ...env, COORD_KEY_PREFIX: uniquePrefix('demo') });
  const { app } = await bootApp(null, { imports: [AppModule.register(config)] });
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as AddressInfo).port };
}

/** Headers of a signed-in seeded user; the company defaults to the user's own. */
export function as(userId: string, companyId: string): Record<string, string> {
  return { [USER_HEADER]: userId, [COMPANY_HEADER]: companyId };
}

/**
 * Repeats `action` until `done()` holds: pub/sub keeps no history, so a first publish may
 * precede the subscription. Each action gets 100 ms to show its effect; fails naming `what`.
 */
export async function repeatUntil(done: () => boolean, action: () => Promise<unknown>, what: string): Promise<void> {
  await until(async () => {
    await action();
    return until(done, { timeoutMs: 100, intervalMs: 10, message: what }).then(() => true, () => false);
  }, { timeoutMs: 10_000, message: what });
}

/** A raw SSE client of `/crews/events/stream`: collects the `data:` of every event until closed. */
export class SseClient {
  readonly events: Array<Record<string, unknown>> = [];
  private constructor(private readonly req: ClientRequest, readonly status: number, readonly contentType: string) {}

  static open(port: number, headers: Record<string, string>): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = get(
        { host: '127.0.0.1', port, path: '/crews/events/stream', headers: { ...headers, accept: 'text/event-stream' } },
        (res) => {
          const client = new SseClient(req, res.statusCode ?? 0, String(res.headers['content-type']));
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim());
              if (data.length > 0) client.events.push(JSON.parse(data.join('\n')));
            }
          });
          res.on('error', () => undefined); // aborted by close()
          resolve(client);
        },
      );
      req.on('error', reject);
    });
  }

  close(): void {
    this.req.destroy();
  }
}
