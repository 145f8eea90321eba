import { EventEmitter } from 'node:events';
import { get, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { StreamService } from '@nest-coordination/core';
import request from 'supertest';
import { AppModule } from '../../apps/demo/src/app.module.js';
import { RUN_HISTORY_GROUP } from '../../apps/demo/src/crews/crew-run-history.service.js';
import { CREW_RUN_EVENTS } from '../../apps/demo/src/crews/crew-run-events.js';
import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { COMPANY_HEADER, USER_HEADER, demoConfigFromEnv, type DemoConfig } from '../../apps/demo/src/demo.config.js';
import { testRedisUrl } from '../harness/env.js';
import { bootApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../support/drivers.js';
import { nextEvent, until } from '../support/wait.js';

/** The demo runs on memory and a standalone Redis here; the cluster is covered by the contract suites. */
export const DEMO_BACKENDS = DRIVERS.filter((d) => d.name !== 'cluster');

/** What a test changes in the demo it boots. */
export interface DemoBootOptions {
  /** Key prefix (default: a unique one); two boots with the same prefix are two instances of one deployment. */
  prefix?: string;
  /** Redis to use instead of the test server (e.g. with an ACL user in the URL); ignored on memory. */
  redisUrl?: string;
  /** More environment variables for `demoConfigFromEnv` (e.g. `COORD_INSTANCE_ID`). */
  env?: NodeJS.ProcessEnv;
  /** Adjusts the configuration built from the environment (short lock TTLs, stream settings, ...). */
  configure?(config: DemoConfig): DemoConfig;
}

/** Boots the demo the way `main.ts` does (from env-style config), on an ephemeral port. */
export async function bootDemo(driver: DriverCase, options: DemoBootOptions = {}): Promise<{ app: INestApplication; port: number }> {
  const env = driver.name === 'memory' ? {} : { REDIS_URL: options.redisUrl ?? testRedisUrl() };
  const fromEnv = demoConfigFromEnv({ ...options.env, ...env, COORD_KEY_PREFIX: options.prefix ?? uniquePrefix('demo') });
  const config = options.configure?.(fromEnv) ?? fromEnv;
  const { app } = await bootApp(null, { imports: [AppModule.register(config)] });
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as AddressInfo).port };
}

/** Headers of a signed-in seeded user; the company defaults to the user's own. */
export function as(userId: string, companyId: string): Record<string, string> {
  return { [USER_HEADER]: userId, [COMPANY_HEADER]: companyId };
}

/**
 * `GET /crews/:crewId/runs` (200 expected) as the user of `headers`, with an optional query string.
 *
 * @example
 * const [newest] = await runHistory(app, as('u-ada', 'acme'), 'market-research', '?limit=1');
 */
export async function runHistory(app: INestApplication, headers: Record<string, string>, crewId: string, query = ''): Promise<CrewRun[]> {
  const res = await request(app.getHttpServer()).get(`/crews/${crewId}/runs${query}`).set(headers).expect(200);
  return res.body as CrewRun[];
}

/**
 * The run `runId` once the crew's history (as `app` serves it) shows it: the history is written
 * from the stream a moment after the run.
 *
 * @example
 * expect(await recordedRun(other, ADA, 'market-research', run.id)).toMatchObject({ status: 'succeeded' });
 */
export function recordedRun(app: INestApplication, headers: Record<string, string>, crewId: string, runId: string): Promise<CrewRun> {
  return until(async () => (await runHistory(app, headers, crewId, '?limit=100')).find((run) => run.id === runId), {
    timeoutMs: 15_000, message: `run ${runId} of crew ${crewId} in the history`,
  });
}

/**
 * Resolves once the run-history group has handled every run event of the company's stream
 * (nothing after its last delivered entry, nothing pending): what the history will ever show of
 * the runs so far, it shows now. Not by the group's `lag`: Redis cannot count it (null), or
 * counts it wrong for good, once an entry was deleted or trimmed before the group read it.
 *
 * @example
 * await historyCaughtUp(app, 'acme');
 * expect((await runHistory(app, ADA, 'market-research')).filter((r) => r.fencingToken === stale)).toEqual([]);
 */
export async function historyCaughtUp(app: INestApplication, companyId: string): Promise<void> {
  const streams = app.get(StreamService);
  await until(async () => {
    const group = (await streams.groups(CREW_RUN_EVENTS, { tenant: companyId })).find((g) => g.group === RUN_HISTORY_GROUP);
    if (group === undefined || group.pending > 0) return false;
    return (await streams.read(CREW_RUN_EVENTS, { tenant: companyId, after: group.lastDeliveredId, count: 1 })).length === 0;
  }, { timeoutMs: 15_000, message: `the run history of ${companyId} to catch up with its stream` });
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

/** One message of an SSE stream: `event:` (undefined for a plain message) and its parsed `data:`. */
export interface SseMessage {
  type?: string;
  data: unknown;
}

/**
 * A raw SSE client of `/crews/events/stream`. Collects the `data:` of every plain event in
 * `events`, typed events (`event: error`) in `typed`, and comments; emits `comment`, `typed`
 * and `end` (the server ended the response) so tests can await them with `nextEvent()`.
 * A response that is not a stream (a 429) keeps its body in `body`.
 */
export class SseClient extends EventEmitter {
  readonly events: Array<Record<string, unknown>> = [];
  readonly typed: SseMessage[] = [];
  readonly comments: string[] = [];
  body = '';
  ended = false;
  private constructor(private readonly req: ClientRequest, readonly status: number, readonly contentType: string) {
    super();
  }

  /** Opens `path` (default the crew event stream) with `headers`; resolves once the response head arrived. */
  static open(port: number, headers: Record<string, string>, path = '/crews/events/stream'): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = get(
        // No keep-alive agent: a socket pooled after the stream ended would hold up the server's close.
        { host: '127.0.0.1', port, path, headers: { ...headers, accept: 'text/event-stream' }, agent: false },
        (res) => {
          const client = new SseClient(req, res.statusCode ?? 0, String(res.headers['content-type']));
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            client.body += chunk;
            buffer += chunk;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              client.parse(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
            }
          });
          res.on('end', () => {
            client.ended = true;
            client.emit('end');
          });
          res.on('error', () => undefined); // aborted by close()
          resolve(client);
        },
      );
      req.on('error', reject);
    });
  }

  /** Resolves once the server has ended the response (at once if it has already). */
  async whenEnded(what = 'the server to end the response'): Promise<void> {
    if (!this.ended) await nextEvent(this, 'end', { timeoutMs: 5_000, message: what });
  }

  close(): void {
    this.req.destroy();
  }

  private parse(block: string): void {
    const lines = block.split('\n');
    const field = (name: string) => lines.filter((line) => line.startsWith(`${name}:`)).map((line) => line.slice(name.length + 1).trim());
    for (const comment of field('')) {
      this.comments.push(comment);
      this.emit('comment', comment);
    }
    const data = field('data');
    if (data.length === 0) return;
    const text = data.join('\n');
    const [type] = field('event');
    if (type === undefined) {
      this.events.push(JSON.parse(text));
      return;
    }
    const message: SseMessage = { type, data: parseJson(text) };
    this.typed.push(message);
    this.emit('typed', message);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
