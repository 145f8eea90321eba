import type { RedisConnection } from '../connection/redis-connection.js';
import type { CampaignReply, JobTickStore, LeaderRecord, LeaderStore, TickClaim } from './leader-store.interface.js';

/** STUB (lead): replaced by the store helper. */
export class RedisLeaderStore implements LeaderStore {
  constructor(readonly connection: RedisConnection) {}
  campaign(): Promise<CampaignReply> { return Promise.reject(new Error('not implemented')); }
  renew(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  resign(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  read(): Promise<LeaderRecord | null> { return Promise.reject(new Error('not implemented')); }
}

/** STUB (lead): replaced by the store helper. */
export class RedisJobTickStore implements JobTickStore {
  constructor(readonly connection: RedisConnection) {}
  claimTick(): Promise<TickClaim> { return Promise.reject(new Error('not implemented')); }
  renewTick(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  finishTick(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
}
