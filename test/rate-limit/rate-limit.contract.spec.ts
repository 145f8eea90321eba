import { DRIVERS } from '../support/drivers.js';
import { describeRateLimitContract } from '../contract/rate-limit.contract.js';

describe.each(DRIVERS)('rate limits on $name', (driver) => {
  describeRateLimitContract(driver);
});
