import type { EventBus, SessionService } from '@nest-coordination/core';
import { Observable } from 'rxjs';
import { DashboardFeed } from './dashboard-feed.service.js';
import { DEFAULT_DASHBOARD_CONFIG } from './dashboard.config.js';
import type { DashboardService } from './dashboard.service.js';
import type { DashboardSnapshot } from './dashboard.types.js';

/** An EventBus whose subscriptions carry no event and are confirmed when the test says so. */
class HeldBackEvents {
  private readonly confirmations: Array<() => void> = [];

  on(): Observable<never> & { ready(): Promise<void> } {
    let confirm!: () => void;
    const ready = new Promise<void>((resolve) => (confirm = resolve));
    this.confirmations.push(confirm);
    return Object.assign(new Observable<never>(() => undefined), { ready: () => ready });
  }

  confirmAll(): void {
    for (const confirm of this.confirmations) confirm();
  }
}

/** A DashboardService that counts its reads. */
class CountedReads {
  reads = 0;

  snapshot(companyId: string): Promise<DashboardSnapshot> {
    this.reads += 1;
    return Promise.resolve({ companyId } as DashboardSnapshot);
  }

  forget(): void {}
}

const ADA = { id: 'u-ada', companyId: 'acme', role: 'owner' } as const;

/** Lets every promise callback already due run (the reads here resolve at once). */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('DashboardFeed', () => {
  let events: HeldBackEvents;
  let dashboard: CountedReads;
  let feed: DashboardFeed;

  beforeEach(() => {
    events = new HeldBackEvents();
    dashboard = new CountedReads();
    // No tick within a test: every read is the first one or the confirmation's.
    feed = new DashboardFeed(
      dashboard as unknown as DashboardService, events as unknown as EventBus, {} as SessionService,
      { ...DEFAULT_DASHBOARD_CONFIG, intervalMs: 600_000 }, { maxStreamsPerUser: 5, violationsKept: 1_000 },
    );
  });

  it('reads the snapshot again when the lock-event subscription is confirmed, for the changes made before it', async () => {
    const received: unknown[] = [];
    const client = feed.open(ADA, undefined, new AbortController().signal).subscribe((message) => received.push(message));
    try {
      await settled();
      expect(dashboard.reads).toBe(1);
      events.confirmAll();
      await settled();
      expect(dashboard.reads).toBe(2);
      expect(received).toHaveLength(2);
    } finally {
      client.unsubscribe();
    }
  });

  it('reads nothing for a subscription confirmed after the last client left', async () => {
    const client = feed.open(ADA, undefined, new AbortController().signal).subscribe();
    await settled();
    expect(dashboard.reads).toBe(1);
    client.unsubscribe();
    expect(feed.runningFeeds()).toBe(0);

    events.confirmAll();
    await settled();
    expect(dashboard.reads).toBe(1);
  });
});
