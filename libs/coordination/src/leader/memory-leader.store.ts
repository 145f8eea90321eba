import type { Clock } from "../core/clock.js";
import type { CampaignReply, JobTickStore, LeaderRecord, LeaderStore, TickClaim } from './leader-store.interface.js';

/** STUB (lead): replaced by the store helper. */
export class MemoryLeaderStore implements LeaderStore {
  constructor(readonly clock: Clock) {}
  campaign(): Promise<CampaignReply> { return Promise.reject(new Error('not implemented')); }
  renew(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  resign(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  read(): Promise<LeaderRecord | null> { return Promise.reject(new Error('not implemented')); }
}

/** STUB (lead): replaced by the store helper. */
export class MemoryJobTickStore implements JobTickStore {
  constructor(readonly clock: Clock) {}
  claimTick(): Promise<TickClaim> { return Promise.reject(new Error('not implemented')); }
  renewTick(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  finishTick(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
}
