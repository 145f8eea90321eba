import { describeCacheServiceContract } from '../contract/cache.contract.js';
import { DRIVERS } from '../support/drivers.js';

describe.each(DRIVERS)('CacheService contract ($name)', (driver) => {
  describeCacheServiceContract(driver);
});
