import { Logger, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { StoreConfig } from '../demo.config.js';
import { CrewStore, MAX_RUNS_PER_CREW, MemoryCrewStore, finishedMs, pageOfRuns, seedDefinitions, seedRuns, type RunsPage } from './crew-store.js';
import type { CrewDefinition, CrewRun } from './crew.model.js';

/**
 * Adds or replaces one run record and trims the history, atomically.
 *
 * Input:  KEYS[1] the crew's run index (sorted set: member = run id, score = finished ms)
 *         KEYS[2] the crew's run records (hash: field = run id, value = the JSON record)
 *         ARGV[1] runs kept; ARGV[2] run id; ARGV[3] finished ms; ARGV[4] JSON record;
 *         ARGV[5..] the crew's seeded runs as (id, finished ms, JSON) triples, written first (NX)
 *         when the crew has no history yet, so that they count towards the runs kept
 * Output: the number of runs dropped (the oldest; among runs finished in the same ms the
 *         smallest ids, as the sorted set orders them)
 */
const SAVE_RUN = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  for i = 5, #ARGV, 3 do
    redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 1], ARGV[i])
    redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 2])
  end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
local last = -(tonumber(ARGV[1]) + 1)
local dropped = redis.call('ZRANGE', KEYS[1], 0, last)
if #dropped > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, last)
  redis.call('HDEL', KEYS[2], unpack(dropped))
end
return #dropped
`;

/** The store's connection with its script as a command (ioredis `defineCommand`). */
type StoreClient = Redis & {
  saveCrewRun(index: string, records: string, ...args: Array<string | number>): Promise<number>;
};

/**
 * `CrewStore` in Redis, so that every instance of the demo reads the crews every other edited and
 * the same run history:
 * - one hash per company, `<keyPrefix>:crews:<companyId>`, field = crew id, value = the JSON
 *   definition. It holds the edited crews only; a crew never edited is read from the seed;
 * - per crew, under one hash tag `<keyPrefix>:runs:{<companyId>:<crewId>}`: a sorted set `:index`
 *   (member = run id, score = when it finished, ms) and a hash `:records` (field = run id, value =
 *   the JSON record), written and trimmed to the newest `MAX_RUNS_PER_CREW` together by one
 *   script: one record per run id, however often or however differently it is saved. The seeded
 *   runs are written with the first run saved, so they count towards the runs kept; until then
 *   the history is the seed.
 *
 * Its own connection (a database of its own, in a real app), opened at construction and closed
 * at shutdown.
 *
 * @example
 * const store = new RedisCrewStore({ redisUrl: 'redis://127.0.0.1:6379', keyPrefix: 'demo-db' });
 */
export class RedisCrewStore extends CrewStore implements OnApplicationShutdown {
  private readonly logger = new Logger('RedisCrewStore');
  private readonly redis: StoreClient;
  private reportedError = false;

  constructor(private readonly config: StoreConfig & { redisUrl: string }) {
    super();
    // Fail a command after one reconnection attempt instead of queueing it for long: a request
    // the store cannot answer is a 500 at once, not a hung client. A disconnect drops the socket
    // at once: ioredis's default waits 2 s for it, and when Redis is already gone that timer is
    // never cleared and keeps the process alive after the application closed.
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, disconnectTimeout: 0 });
    redis.defineCommand('saveCrewRun', { numberOfKeys: 2, lua: SAVE_RUN });
    this.redis = redis as StoreClient;
    this.redis.on('ready', () => (this.reportedError = false));
    this.redis.on('error', (error: Error) => {
      if (this.reportedError) return;
      this.reportedError = true;
      this.logger.warn(`Crew store connection error: ${error.message}`);
    });
  }

  async find(companyId: string, crewId: string): Promise<CrewDefinition | undefined> {
    const seeded = seedDefinitions(companyId).find((crew) => crew.id === crewId);
    if (!seeded) return undefined;
    const saved = await this.redis.hget(this.key(companyId), crewId);
    return saved === null ? seeded : (JSON.parse(saved) as CrewDefinition);
  }

  async list(companyId: string): Promise<CrewDefinition[]> {
    const saved = await this.redis.hgetall(this.key(companyId));
    return seedDefinitions(companyId).map((crew) => (saved[crew.id] === undefined ? crew : (JSON.parse(saved[crew.id]) as CrewDefinition)));
  }

  async save(crew: CrewDefinition): Promise<void> {
    if (!seedDefinitions(crew.companyId).some((seeded) => seeded.id === crew.id)) {
      throw new Error(`No crew "${crew.id}" in company "${crew.companyId}" to save`);
    }
    await this.redis.hset(this.key(crew.companyId), crew.id, JSON.stringify(crew));
  }

  async saveRun(companyId: string, crewId: string, run: CrewRun): Promise<void> {
    const { index, records } = this.runKeys(companyId, crewId);
    const seeds = seedRuns(companyId, crewId).flatMap((seed) => [seed.id, finishedMs(seed), JSON.stringify(seed)]);
    await this.redis.saveCrewRun(index, records, MAX_RUNS_PER_CREW, run.id, finishedMs(run), JSON.stringify(run), ...seeds);
  }

  async runs(companyId: string, crewId: string, page: RunsPage): Promise<CrewRun[]> {
    // The whole history (at most MAX_RUNS_PER_CREW small records), ordered and paged as in memory.
    const records = Object.values(await this.redis.hgetall(this.runKeys(companyId, crewId).records));
    return pageOfRuns(records.length === 0 ? seedRuns(companyId, crewId) : records.map((json) => JSON.parse(json) as CrewRun), page);
  }

  async onApplicationShutdown(): Promise<void> {
    // QUIT would wait for a connection that is not there (Redis down): drop it instead.
    if (this.redis.status !== 'ready') return this.redis.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(companyId: string): string {
    return `${this.config.keyPrefix}:crews:${companyId}`;
  }

  private runKeys(companyId: string, crewId: string): { index: string; records: string } {
    const base = `${this.config.keyPrefix}:runs:{${companyId}:${crewId}}`;
    return { index: `${base}:index`, records: `${base}:records` };
  }
}

/**
 * The `CrewStore` of the demo's configuration: Redis with `store.redisUrl`, memory without.
 *
 * @example
 * providers: [crewStoreProvider(config.store), CrewConfigs]
 */
export function crewStoreProvider(config: StoreConfig): Provider {
  const { redisUrl } = config;
  return {
    provide: CrewStore,
    useFactory: () => (redisUrl === undefined ? new MemoryCrewStore() : new RedisCrewStore({ ...config, redisUrl })),
  };
}
