import { storeTtlMs } from '../cache/store-ttl.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { BeginResult, IdempotencyRecordKey, IdempotencyStore } from './idempotency-store.interface.js';
import { IDEMPOTENCY_SCRIPTS as S } from './idempotency.scripts.js';

/** The reply of begin.lua (see its header). */
type BeginReply = ['acquired'] | ['mismatch'] | ['in-flight', number] | ['completed', string];

/**
 * The idempotency store on Redis: one Lua script per operation (idempotency.scripts.ts), one
 * round trip each, on the record's single key, through the circuit breaker of the command
 * connection (an outage fails as RedisUnavailableError naming the script's operation, see
 * script-operations.ts). A record is a hash { state, fp, owner, outcome }; Redis expires it at
 * the end of its lease (in flight) or of its replay ttl (done), so an expired record is simply
 * gone. Lifetimes are whole ms, rounded up (a fractional one never ends early); a lifetime that
 * is not a number > 0 throws InvalidArgumentError before any Redis call.
 *
 * Outcomes travel as Lua strings (binary-safe) and come back as the string given to `complete`
 * (UTF-8 both ways, which round-trips every well-formed string the serializer produces).
 *
 * @example
 * const store = new RedisIdempotencyStore(core.connection);
 * const begun = await store.begin(key, fingerprint, owner, 30_000);
 * if (begun.kind === 'acquired') await store.complete(key, owner, core.serializer.encode(value), 86_400_000);
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(private readonly connection: RedisConnection) {}

  async begin(key: IdempotencyRecordKey, fingerprint: string, owner: string, leaseMs: number): Promise<BeginResult> {
    const lease = storeTtlMs(leaseMs);
    return toBegun(await this.connection.runScript<BeginReply>(S.begin, [key], [fingerprint, owner, lease]));
  }

  async renew(key: IdempotencyRecordKey, owner: string, leaseMs: number): Promise<boolean> {
    const lease = storeTtlMs(leaseMs);
    return (await this.connection.runScript<number>(S.renew, [key], [owner, lease])) === 1;
  }

  async complete(key: IdempotencyRecordKey, owner: string, outcome: string, ttlMs: number): Promise<boolean> {
    const ttl = storeTtlMs(ttlMs);
    return (await this.connection.runScript<number>(S.complete, [key], [owner, outcome, ttl])) === 1;
  }

  async abandon(key: IdempotencyRecordKey, owner: string): Promise<boolean> {
    return (await this.connection.runScript<number>(S.abandon, [key], [owner])) === 1;
  }
}

/** begin.lua's reply as a BeginResult (the only place it is read). */
function toBegun(reply: BeginReply): BeginResult {
  switch (reply[0]) {
    case 'acquired':
      return { kind: 'acquired' };
    case 'mismatch':
      return { kind: 'mismatch' };
    case 'in-flight':
      return { kind: 'in-flight', retryAfterMs: Number(reply[1]) };
    case 'completed':
      return { kind: 'completed', outcome: reply[1] };
    default:
      throw new Error(`Unexpected reply of coordIdempotencyBegin: ${JSON.stringify(reply)}`);
  }
}
