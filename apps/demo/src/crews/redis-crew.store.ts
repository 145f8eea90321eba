import { Logger, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { StoreConfig } from '../demo.config.js';
import { CrewStore, MAX_RUNS_PER_CREW, MemoryCrewStore, finishedMs, pageOfRuns, seedDefinitions, seedRuns, type RunsPage } from './crew-store.js';
import type { CrewDefinition, CrewRun } from './crew.model.js';

/**
 * `CrewStore` in Redis, so that every instance of the demo reads the crews every other edited and
 * the same run history:
 * - one hash per company, `<keyPrefix>:crews:<companyId>`, field = crew id, value = the JSON
 *   definition. It holds the edited crews only; a crew never edited is read from the seed;
 * - one sorted set per crew, `<keyPrefix>:runs:<companyId>:<crewId>`, member = the JSON run
 *   record, score = when it finished (ms), trimmed to the newest `MAX_RUNS_PER_CREW`. A record
 *   saved twice is one member; the seeded runs are merged in when read.
 *
 * Its own connection (a database of its own, in a real app), opened at construction and closed
 * at shutdown.
 *
 * @example
 * const store = new RedisCrewStore({ redisUrl: 'redis://127.0.0.1:6379', keyPrefix: 'demo-db' });
 */
export class RedisCrewStore extends CrewStore implements OnApplicationShutdown {
  private readonly logger = new Logger('RedisCrewStore');
  private readonly redis: Redis;
  private reportedError = false;

  constructor(private readonly config: StoreConfig & { redisUrl: string }) {
    super();
    // Fail a command after one reconnection attempt instead of queueing it for long: a request
    // the store cannot answer is a 500 at once, not a hung client.
    this.redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
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
    const key = this.runsKey(companyId, crewId);
    const replies = await this.redis.multi().zadd(key, finishedMs(run), JSON.stringify(run)).zremrangebyrank(key, 0, -(MAX_RUNS_PER_CREW + 1)).exec();
    // A command refused inside the transaction is a reply, not a rejection: fail the write (its event is delivered again).
    const refused = replies?.find(([error]) => error !== null);
    if (refused) throw refused[0];
  }

  async runs(companyId: string, crewId: string, page: RunsPage): Promise<CrewRun[]> {
    const newest = page.before === undefined ? '+inf' : `(${page.before}`;
    const recorded = await this.redis.zrange(this.runsKey(companyId, crewId), newest, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, page.limit);
    return pageOfRuns([...recorded.map((json) => JSON.parse(json) as CrewRun), ...seedRuns(companyId, crewId)], page);
  }

  async onApplicationShutdown(): Promise<void> {
    // QUIT would wait for a connection that is not there (Redis down): drop it instead.
    if (this.redis.status !== 'ready') return this.redis.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(companyId: string): string {
    return `${this.config.keyPrefix}:crews:${companyId}`;
  }

  private runsKey(companyId: string, crewId: string): string {
    return `${this.config.keyPrefix}:runs:${companyId}:${crewId}`;
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
