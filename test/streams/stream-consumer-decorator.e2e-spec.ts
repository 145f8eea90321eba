import { jest } from '@jest/globals';
import { Injectable, Logger, Scope } from '@nestjs/common';
import {
  CREW_EVENTS, CoordinationModule, InvalidArgumentError, StreamConsumer, StreamService, type CrewStreamEvent, type StreamEntry,
} from '@nest-coordination/core';
import { STREAM_STORE, type StreamStore } from '../../libs/coordination/src/streams/stream-store.interface.js';
import { CoordinationCore } from '../support/internals.js';
import { bootFailure, bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';
import { ARRIVAL_MS, gate } from '../contract/streams.contract.js';

/** What the providers below saw; reset before each test. */
const seen = { history: [] as Array<StreamEntry<CrewStreamEvent>>, tenants: [] as Array<string | undefined>, slow: [] as string[], finished: [] as string[], requestScoped: 0 };
let slowGate = gate();

@Injectable()
class RunHistory {
  constructor(private readonly core: CoordinationCore) {}

  @StreamConsumer(CREW_EVENTS, { group: 'history', tenant: 'acme', blockMs: 200 })
  record(entry: StreamEntry<CrewStreamEvent>): void {
    seen.history.push(entry);
    seen.tenants.push(this.core.tenants.current());
  }

  @StreamConsumer('slow-jobs', { group: 'workers', tenant: 'acme', blockMs: 200 })
  async work(entry: StreamEntry): Promise<void> {
    seen.slow.push(entry.id);
    await slowGate.promise;
    seen.finished.push(entry.id);
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestScopedConsumer {
  @StreamConsumer('slow-jobs', { group: 'request-scoped', tenant: 'acme' })
  handle(): void {
    seen.requestScoped += 1;
  }
}

describe.each(DRIVERS)('@StreamConsumer ($name)', (driver) => {
  let booted: BootedModule;
  let closed: Promise<void> | undefined;
  let warn: jest.SpiedFunction<Logger['warn']>;
  beforeEach(async () => {
    Object.assign(seen, { history: [], tenants: [], slow: [], finished: [], requestScoped: 0 });
    slowGate = gate();
    warn = jest.spyOn(Logger.prototype, 'warn');
    booted = await bootModule({ ...driver.options(), streams: { shutdownTimeoutMs: 10_000 } }, { providers: [RunHistory, RequestScopedConsumer] });
    closed = undefined;
  });
  afterEach(async () => {
    slowGate.open();
    await (closed ??= booted.close());
    warn.mockRestore();
  });

  it('starts the consumers at bootstrap, bound to their instance and in their tenant; skips request-scoped providers with a warning', async () => {
    const streams = booted.get(StreamService);
    // Boot waited for the consumers: their groups exist before anything is appended.
    expect((await streams.groups(CREW_EVENTS, { tenant: 'acme' })).map((g) => g.group)).toEqual(['history']);
    expect((await streams.groups('slow-jobs', { tenant: 'acme' })).map((g) => g.group)).toEqual(['workers']);
    const event: CrewStreamEvent = { type: 'crew.run.started', crewId: 'c-1', runId: 'r-1', at: new Date(7) };
    const id = await streams.append(CREW_EVENTS, event, { tenant: 'acme' });
    await until(() => seen.history.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the crew event' });
    expect(seen.history[0]).toMatchObject({ id, stream: 'crew-events', tenant: 'acme', payload: event, deliveries: 1 });
    expect(seen.history[0].payload.at).toBeInstanceOf(Date);
    expect(seen.tenants).toEqual(['acme']);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/@StreamConsumer on RequestScopedConsumer \(handle\) ignored: .*not a singleton/));
    await streams.append('slow-jobs', { n: 1 }, { tenant: 'acme' });
    slowGate.open();
    await until(() => seen.finished.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the slow job' });
    expect(seen.requestScoped).toBe(0);
  });

  it('lets an in-flight handler finish at app.close() and acks it', async () => {
    const streams = booted.get(StreamService);
    const store = booted.get<StreamStore>(STREAM_STORE);
    const ack = jest.spyOn(store, 'ack');
    const id = await streams.append('slow-jobs', { n: 1 }, { tenant: 'acme' });
    await until(() => seen.slow.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the handler to start' });
    let done = false;
    closed = booted.close().then(() => void (done = true));
    // Let time pass on purpose: the application must not finish closing under a running handler.
    await sleep(300);
    expect(done).toBe(false);
    slowGate.open();
    await closed;
    expect(seen.finished).toEqual([id]);
    expect(ack.mock.calls.map((call) => call[2]).flat()).toContain(id);
    expect(await Promise.all(ack.mock.results.map((r) => r.value))).toContain(1);
  });
});

describe('@StreamConsumer arguments', () => {
  it('checks its arguments when the class is defined', () => {
    expect(() => StreamConsumer('s', { group: '' })).toThrow(InvalidArgumentError);
    expect(() => StreamConsumer('', { group: 'g' })).toThrow(InvalidArgumentError);
    expect(() => StreamConsumer('s', { group: 'g', concurrency: 0 })).toThrow(InvalidArgumentError);
    expect(() => StreamConsumer('s', undefined as never)).toThrow(InvalidArgumentError);
    expect(() => {
      class Static {
        @StreamConsumer('s', { group: 'g' })
        static handle(): void {}
      }
      return Static;
    }).toThrow(/only instance methods/);
  });

  it('fails the boot when two methods consume one stream in one group under the same consumer name', async () => {
    @Injectable()
    class Twice {
      @StreamConsumer('s', { group: 'g' })
      one(): void {}

      @StreamConsumer('s', { group: 'g' })
      two(): void {}
    }
    const error = await bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory', prefix: uniquePrefix('sc') })], providers: [Twice] });
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('consumer');
  });
});
