import { DRIVERS } from '../support/drivers.js';
import { describeLockServiceContract } from '../contract/locks.contract.js';
import { describeLockSafetyContract } from './locks-safety.contract.js';

describe.each(DRIVERS)('locks contract ($name)', (driver) => {
  describeLockServiceContract(driver);
  describeLockSafetyContract(driver);
});
