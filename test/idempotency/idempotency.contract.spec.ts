import { describeIdempotencyServiceContract } from '../contract/idempotency.contract.js';
import { DRIVERS } from '../support/drivers.js';

describe.each(DRIVERS)('IdempotencyService contract ($name)', (driver) => {
  describeIdempotencyServiceContract(driver);
});
