import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type {
  EventTransport, TransportListener, TransportSubscription,
} from '../../../libs/coordination/src/events/event-transport.interface.js';
import { KeyBuilder } from '../../../libs/coordination/src/keys/key-builder.js';
import { uniquePrefix } from '../../support/drivers.js';
import { until } from '../../support/wait.js';

/** One transport the suite drives, with what it needs to look behind it. */
export interface TransportUnderTest {
  readonly transport: EventTransport;
  /**
   * The (P)SUBSCRIBEs the transport holds on the server right now, where the backend can
   * tell (Redis: its subscriber connection in CLIENT LIST); absent for the memory transport.
   */
  serverSubscriptions?(): Promise<{ channels: number; patterns: number }>;
  /** Closes the transport's connections. */
  close(): Promise<void>;
}

export interface EventTransportCase {
  name: string;
  /** A new transport on its own connections. */
  createTransport(): Promise<TransportUnderTest>;
  /** Whether two transports from `createTransport` share one bus (Redis) or each is alone (memory). */
  sharedBus: boolean;
}

/** Bound on waiting for a message that must arrive; a miss fails instead of hanging. */
const DELIVERY_TIMEOUT_MS = 5_000;

type Received = Array<[channel: string, message: string]>;

interface Recorder extends TransportListener {
  readonly received: Received;
  readonly errors: unknown[];
  /** Resolves with a copy of `received` once it holds `count` messages. */
  waitFor(count: number): Promise<Received>;
}

function recorder(label: string): Recorder {
  const received: Received = [];
  const errors: unknown[] = [];
  return {
    received,
    errors,
    message: (channel, message) => received.push([channel, message]),
    failed: (error) => errors.push(error),
    async waitFor(count) {
      await until(() => received.length >= count, {
        timeoutMs: DELIVERY_TIMEOUT_MS,
        intervalMs: 5,
        message: () => `${count} message(s) for ${label}, got ${JSON.stringify(received)}`,
      });
      return received.slice();
    },
  };
}

const sorted = (received: Received): Received => [...received].sort(([a], [b]) => a.localeCompare(b));

/**
 * The contract every `EventTransport` keeps, asserted on the transport itself (no EventBus,
 * no serializer): delivery to channel and pattern listeners, one server subscription per
 * channel or pattern however many listeners share it, `ready` meaning "in place on the server",
 * `drain`, and no delivery outside the channel or namespace subscribed to.
 *
 * Messages published to different channels may arrive in any order (on a cluster each PUBLISH
 * can take another node), so only the set of messages is compared. To prove that something
 * did NOT arrive without sleeping, a witness subscription on the same transport receives a
 * later publish: a transport hands one publish to all of its matching listeners at once.
 *
 * @example
 * describe.each(DRIVERS)('event transport ($name)', (driver) => describeEventTransportContract(caseFor(driver)));
 */
export function describeEventTransportContract(spec: EventTransportCase): void {
  let under: TransportUnderTest;
  let transport: EventTransport;
  let keys: KeyBuilder;
  const open: TransportSubscription[] = [];
  const channel = (name: string, tenant = 'acme') => keys.channel(tenant, 'events', name);
  const pattern = (glob: string, tenant = 'acme') => keys.channelPattern(tenant, 'events', glob);
  const subscribe = (kind: 'channel' | 'pattern', name: string, listener: TransportListener) => {
    const subscription = transport.subscribe(kind, name, listener);
    open.push(subscription);
    return subscription;
  };

  beforeAll(async () => {
    under = await spec.createTransport();
    transport = under.transport;
  });

  beforeEach(() => {
    // Fresh names per test: the Redis servers are shared with every other test file.
    keys = new KeyBuilder(uniquePrefix('evt'));
  });

  afterEach(async () => {
    for (const subscription of open.splice(0)) subscription.close();
    await transport.drain();
  });

  afterAll(async () => {
    await under?.close();
  });

  it('delivers a publish to the listeners of its channel and of every matching pattern, with the full channel name', async () => {
    const exact = recorder('crew.started');
    const crew = recorder('crew.*');
    const agent = recorder('agent.started');
    await Promise.all([
      subscribe('channel', channel('crew.started'), exact).ready,
      subscribe('pattern', pattern('crew.*'), crew).ready,
      subscribe('channel', channel('agent.started'), agent).ready,
    ]);

    await transport.publish(channel('agent.started'), 'a');
    await agent.waitFor(1);
    await transport.publish(channel('crew.started'), 'b');
    await transport.publish(channel('crew.run.done'), 'ünïcødé\n{"x":1}');

    expect(await exact.waitFor(1)).toEqual([[channel('crew.started'), 'b']]);
    expect(sorted(await crew.waitFor(2))).toEqual(sorted([[channel('crew.started'), 'b'], [channel('crew.run.done'), 'ünïcødé\n{"x":1}']]));
    expect(agent.received).toEqual([[channel('agent.started'), 'a']]);
    for (const r of [exact, crew, agent]) expect(r.errors).toEqual([]);
  });

  it('never delivers outside the namespace subscribed to: other tenants, other prefixes', async () => {
    const other = new KeyBuilder(uniquePrefix('evt'));
    const all = recorder('acme *');
    const otherTenant = recorder('acme2 crew.started');
    const otherPrefix = recorder('other prefix crew.started');
    await Promise.all([
      subscribe('pattern', pattern('*'), all).ready,
      subscribe('channel', channel('crew.started', 'acme2'), otherTenant).ready,
      subscribe('channel', other.channel('acme', 'events', 'crew.started'), otherPrefix).ready,
    ]);

    await transport.publish(channel('crew.started', 'acme2'), 'acme2');
    await transport.publish(other.channel('acme', 'events', 'crew.started'), 'other');
    await otherTenant.waitFor(1);
    await otherPrefix.waitFor(1);
    await transport.publish(channel('crew.started'), 'acme');

    expect(await all.waitFor(1)).toEqual([[channel('crew.started'), 'acme']]);
    expect(all.received).toHaveLength(1);
  });

  it('holds one server subscription per channel or pattern, and drops it when the last listener leaves', async () => {
    const baseline = transport.activeSubscriptions;
    const first = recorder('first');
    const second = recorder('second');
    const a = subscribe('channel', channel('refcount'), first);
    const b = subscribe('channel', channel('refcount'), second);
    const p = subscribe('pattern', pattern('refcount*'), recorder('pattern'));
    await Promise.all([a.ready, b.ready, p.ready]);
    expect(transport.activeSubscriptions).toBe(baseline + 2);
    if (under.serverSubscriptions) expect(await under.serverSubscriptions()).toEqual({ channels: 1, patterns: 1 });

    a.close();
    a.close(); // closing twice must not take the other listener's share
    expect(transport.activeSubscriptions).toBe(baseline + 2);
    await transport.publish(channel('refcount'), 'x');
    expect(await second.waitFor(1)).toEqual([[channel('refcount'), 'x']]);
    expect(first.received).toEqual([]);

    b.close();
    p.close();
    expect(transport.activeSubscriptions).toBe(baseline);
    await transport.drain();
    if (under.serverSubscriptions) expect(await under.serverSubscriptions()).toEqual({ channels: 0, patterns: 0 });

    // One publish reaches every listener of the transport at once: once the witness has it,
    // a listener still attached to the channel would have it too.
    const witness = recorder('witness');
    await subscribe('pattern', pattern('refcoun*'), witness).ready;
    await transport.publish(channel('refcount'), 'y');
    await witness.waitFor(1);
    expect(second.received).toHaveLength(1);
  });

  it('stays subscribed when a listener joins right after the last one left', async () => {
    const baseline = transport.activeSubscriptions;
    for (let i = 0; i < 3; i++) transport.subscribe('channel', channel('rejoin'), recorder('leaver')).close();
    const again = recorder('rejoined');
    await subscribe('channel', channel('rejoin'), again).ready;
    await transport.publish(channel('rejoin'), 'x');
    expect(await again.waitFor(1)).toEqual([[channel('rejoin'), 'x']]);
    expect(transport.activeSubscriptions).toBe(baseline + 1);
    if (under.serverSubscriptions) expect(await under.serverSubscriptions()).toEqual({ channels: 1, patterns: 0 });
  });

  it('confirms through ready that the subscription is in place, also for a listener joining a confirmed one', async () => {
    const first = recorder('first');
    await subscribe('channel', channel('ready'), first).ready;
    // No polling: confirmed means on the server now.
    if (under.serverSubscriptions) expect(await under.serverSubscriptions()).toEqual({ channels: 1, patterns: 0 });
    await transport.publish(channel('ready'), '1');
    await first.waitFor(1);

    const joined = recorder('joined');
    await subscribe('channel', channel('ready'), joined).ready;
    await transport.publish(channel('ready'), '2');
    expect(await joined.waitFor(1)).toEqual([[channel('ready'), '2']]);
    expect((await first.waitFor(2)).map(([, m]) => m)).toEqual(['1', '2']);
  });

  it('keeps delivering to the other listeners when one throws, and logs the failure', async () => {
    const errorSpy = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const survivor = recorder('survivor');
      await subscribe('channel', channel('throws'), {
        message: () => {
          throw new Error('listener broke');
        },
        failed: () => undefined,
      }).ready;
      await subscribe('channel', channel('throws'), survivor).ready;
      await transport.publish(channel('throws'), 'x');
      expect(await survivor.waitFor(1)).toEqual([[channel('throws'), 'x']]);
      expect(errorSpy.mock.calls.map(([message]) => String(message)).filter((m) => m.includes('listener broke'))).toHaveLength(1);
    } finally {
      errorSpy.mockRestore();
    }
  });

  it('lets a listener leave inside its own callback without the others missing that message', async () => {
    const once: Received = [];
    const stays = recorder('stays');
    const leaving: TransportSubscription = subscribe('channel', channel('leave'), {
      message: (c, m) => {
        once.push([c, m]);
        leaving.close();
      },
      failed: () => undefined,
    });
    await leaving.ready;
    await subscribe('channel', channel('leave'), stays).ready;
    await transport.publish(channel('leave'), '1');
    await stays.waitFor(1);
    await transport.publish(channel('leave'), '2');
    expect((await stays.waitFor(2)).map(([, m]) => m)).toEqual(['1', '2']);
    expect(once).toEqual([[channel('leave'), '1']]);
  });

  it('publishes to a channel nobody listens to, and drains at once with nothing pending', async () => {
    await expect(transport.publish(channel('nobody'), 'x')).resolves.toBeUndefined();
    await expect(transport.drain()).resolves.toBeUndefined();
  });

  if (spec.sharedBus) {
    it('delivers from one transport to the listeners of another on the same bus', async () => {
      const other = await spec.createTransport();
      try {
        const there = recorder('other transport');
        const subscription = other.transport.subscribe('pattern', pattern('crew.*'), there);
        await subscription.ready;
        await transport.publish(channel('crew.started'), 'across');
        expect(await there.waitFor(1)).toEqual([[channel('crew.started'), 'across']]);
        subscription.close();
      } finally {
        await other.close();
      }
    });
  } else {
    it('keeps each transport to itself', async () => {
      const other = await spec.createTransport();
      try {
        const here = recorder('this transport');
        const there = recorder('other transport');
        await subscribe('channel', channel('alone'), here).ready;
        const subscription = other.transport.subscribe('channel', channel('alone'), there);
        await subscription.ready;
        await transport.publish(channel('alone'), 'here');
        await other.transport.publish(channel('alone'), 'there');
        // Each transport delivers in publish order: had 'here' leaked, it would have come first.
        expect(await there.waitFor(1)).toEqual([[channel('alone'), 'there']]);
        expect(await here.waitFor(1)).toEqual([[channel('alone'), 'here']]);
        expect(there.received).toHaveLength(1);
        subscription.close();
      } finally {
        await other.close();
      }
    });
  }
}
