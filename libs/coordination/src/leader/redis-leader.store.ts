import type { RedisConnection } from '../connection/redis-connection.js';
import type { CampaignReply, JobKeys, JobTickStore, LeaderKeys, LeaderRecord, LeaderStore, TickClaim } from './leader-store.interface.js';
import { JOB_STATE_RETENTION_MS, LEADER_SCRIPTS as S } from './leader.scripts.js';

type Reply = Array<string | number>;

/**
 * Leader election on Redis: one Lua script per operation (leader.scripts.ts), the role's lease
 * hash and fencing counter in one hash slot. Time (a term's `electedAt`) is the server's TIME;
 * the lease is the hash's PEXPIRE, so a leader that stops renewing is simply gone after it.
 * Fencing tokens come from the shared counter include of the locks (`locks/lua/fence.lua`):
 * a token is the larger of the counter + 1 and the server clock in microseconds, so tokens keep
 * rising across a lost counter or one a failover brought back older.
 * Calls go through the connection's circuit breaker; an outage fails as RedisUnavailableError
 * naming the operation (`leader.campaign`, `leader.resign`, `leader.leader`).
 *
 * @example
 * const store = new RedisLeaderStore(core.connection);
 * const keys = new LeaderKeys(core.keys).leader('acme', 'billing');
 * const reply = await store.campaign(keys, 'node-a:x1', 'node-a', 10_000);
 */
export class RedisLeaderStore implements LeaderStore {
  constructor(private readonly connection: RedisConnection) {}

  async campaign(keys: LeaderKeys, candidate: string, instanceId: string, leaseMs: number): Promise<CampaignReply> {
    return toCampaignReply(await this.connection.runScript<Reply>(S.campaign, [keys.lease, keys.fence], [candidate, instanceId, leaseMs]));
  }

  async renew(keys: LeaderKeys, candidate: string, fencingToken: number, leaseMs: number): Promise<boolean> {
    return (await this.connection.runScript<number>(S.renew, [keys.lease], [candidate, fencingToken, leaseMs])) === 1;
  }

  async resign(keys: LeaderKeys, candidate: string, fencingToken: number): Promise<boolean> {
    return (await this.connection.runScript<number>(S.resign, [keys.lease], [candidate, fencingToken])) === 1;
  }

  async read(keys: LeaderKeys): Promise<LeaderRecord | null> {
    const reply = await this.connection.runScript<Reply | null>(S.read, [keys.lease], []);
    return reply ? toRecord(reply) : null;
  }
}

/**
 * Once-per-fleet job ticks on Redis: one Lua script per operation, the job's state hash and
 * fencing counter in one hash slot. The run lease (`until`) is on the server clock; the state
 * hash lives 7 days after its latest claim (JOB_STATE_RETENTION_MS). Calls fail as
 * RedisUnavailableError naming `jobs.claim`, `jobs.renew` or `jobs.finish` while Redis is unreachable.
 *
 * @example
 * const store = new RedisJobTickStore(core.connection);
 * const claim = await store.claimTick(new LeaderKeys(core.keys).job('nightly-report'), tickMs, 'node-a:x1', 60_000);
 */
export class RedisJobTickStore implements JobTickStore {
  constructor(private readonly connection: RedisConnection) {}

  async claimTick(keys: JobKeys, tickMs: number, owner: string, leaseMs: number): Promise<TickClaim> {
    const reply = await this.connection.runScript<Reply>(S.claimTick, [keys.state, keys.fence], [tickMs, owner, leaseMs, JOB_STATE_RETENTION_MS]);
    if (Number(reply[0]) === 1) return { claimed: true, fencingToken: Number(reply[1]) };
    return { claimed: false, reason: reply[1] === 'running' ? 'running' : 'taken', lastTickMs: Number(reply[2]) };
  }

  async renewTick(keys: JobKeys, owner: string, fencingToken: number, leaseMs: number): Promise<boolean> {
    return (await this.connection.runScript<number>(S.renewTick, [keys.state], [owner, fencingToken, leaseMs])) === 1;
  }

  async finishTick(keys: JobKeys, owner: string, fencingToken: number): Promise<boolean> {
    return (await this.connection.runScript<number>(S.finishTick, [keys.state], [owner, fencingToken])) === 1;
  }
}

/** campaign.lua's reply: `{ 1, renewed, token, since, leaseMs }` or `{ 0, candidate, instance, token, since, pttl }`. */
function toCampaignReply(reply: Reply): CampaignReply {
  if (Number(reply[0]) === 1) {
    return { elected: true, renewed: Number(reply[1]) === 1, fencingToken: Number(reply[2]), electedAt: Number(reply[3]), ttlMs: Number(reply[4]) };
  }
  return { elected: false, holder: toRecord(reply.slice(1)) };
}

/** `{ candidate, instance, token, since, pttl }` (read.lua, and the tail of campaign.lua's refusal). */
function toRecord(reply: Reply): LeaderRecord {
  return {
    candidate: String(reply[0]),
    instanceId: String(reply[1]),
    fencingToken: Number(reply[2]),
    electedAt: Number(reply[3]),
    ttlMs: Math.max(0, Number(reply[4])),
  };
}
