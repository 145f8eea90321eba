import { PeriodicTask } from './stream-consumer-timing.js';
import type { ConsumerContext, ConsumerSpec } from './stream-consumer-spec.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import type { StreamHoldings } from './stream-holdings.js';
import { isOutage, type ConsumerObserver } from './stream-observer.js';

/** How often a consumer prunes the group's consumers that went away (on an idle-claim pass). */
const PRUNE_EVERY_MS = 300_000;
/** A consumer idle this long (and at least 10 × claimIdleMs) holding nothing is pruned. */
const PRUNE_IDLE_MS = 3_600_000;

/**
 * The upkeep of one consumer beside its loop: renewing what it holds every claimIdleMs/3 (and
 * on demand), so that no idle claim takes an entry whose handler runs; refreshing its group's
 * gauges every claimIdleMs/2, best-effort (a server that refuses XINFO GROUPS warns once and
 * stops nothing); pruning the group's consumers gone for an hour, at most every few minutes.
 * Renewals failing for an outage call `onOutage`: the loop catches up once Redis answers; timed
 * renewals failing otherwise (a refused command, a script error) warn once.
 *
 * @example
 * const upkeep = new ConsumerUpkeep(spec, context, observer, handlers.held, () => (resync = true));
 * upkeep.start();
 * await upkeep.renew(); // before an idle-claim pass
 * upkeep.stop();
 */
export class ConsumerUpkeep {
  private readonly renewals = new PeriodicTask(() => this.renewHeld(), (error) => this.renewalFailed(error));
  private readonly gauges = new PeriodicTask(() => this.readGauges());
  private nextPruneAt = 0;
  /** Whether this consumer keeps its group's gauges (from start to stop). */
  private gaugesKept = false;

  constructor(
    private readonly spec: ConsumerSpec,
    private readonly context: ConsumerContext,
    private readonly observer: ConsumerObserver,
    private readonly held: StreamHoldings,
    private readonly onOutage: () => void,
  ) {}

  /** Starts the timers (in the caller's async context). */
  start(): void {
    const { claimIdleMs } = this.spec.settings;
    this.renewals.start(Math.floor(claimIdleMs / 3));
    this.gauges.start(Math.floor(claimIdleMs / 2));
  }

  /** Renews every held entry now (joins a renewal in flight); rejects when the store call failed. */
  renew(): Promise<void> {
    return this.renewals.run();
  }

  /** Refreshes the gauges now; never rejects. */
  refreshGauges(): Promise<void> {
    return this.gauges.run();
  }

  /** Keeps the group's gauge series while this consumer runs (the last consumer of the group to stop removes it). */
  keepGauges(keep: boolean): void {
    if (keep === this.gaugesKept) return;
    this.gaugesKept = keep;
    if (keep) this.observer.gauges.keep();
    else this.observer.gauges.drop();
  }

  /** Deletes the group's consumers gone for long (names per process pile up across restarts); best-effort, every few minutes. */
  async prune(): Promise<void> {
    if (performance.now() < this.nextPruneAt) return;
    this.nextPruneAt = performance.now() + PRUNE_EVERY_MS;
    const { keys, group, settings } = this.spec;
    await this.context.store
      .pruneConsumers(keys, group, Math.max(10 * settings.claimIdleMs, PRUNE_IDLE_MS))
      .catch((error: unknown) => this.observer.bestEffortFailed('prune idle consumers', error));
  }

  stop(): void {
    this.renewals.stop();
    this.gauges.stop();
    this.keepGauges(false);
  }

  /** Entries another consumer took over meanwhile are dropped (read ahead) or reported once (in flight). */
  private async renewHeld(): Promise<void> {
    const ids = this.held.renewable();
    if (ids.length === 0) return;
    const { keys, group, consumer } = this.spec;
    try {
      const lost = this.held.lose(await this.context.store.touch(keys, group, consumer, ids));
      if (lost.length > 0) this.observer.entriesLost(lost);
    } catch (error) {
      if (isOutage(error)) this.onOutage();
      throw error;
    }
  }

  /** A timed renewal failed: an outage is the loop's to catch up on, a deleted group its to create again; anything else is said once. */
  private renewalFailed(error: unknown): void {
    if (!(error instanceof StreamGroupMissingError)) this.observer.bestEffortFailed('renew the held entries', error);
  }

  private async readGauges(): Promise<void> {
    try {
      const info = (await this.context.store.groups(this.spec.keys)).find((group) => group.group === this.spec.group);
      if (this.gaugesKept) this.observer.backlog(info); // not after stop: the series is gone
    } catch (error) {
      this.observer.bestEffortFailed('refresh the group gauges', error);
    }
  }
}
