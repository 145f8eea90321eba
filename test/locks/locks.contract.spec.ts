import { DRIVERS } from '../support/drivers.js';
import { describeLockStoreContract } from '../contract/locks.contract.js';
import { describeLockSafetyContract } from './locks-safety.contract.js';

describe.each(DRIVERS)('locks contract ($name)', (driver) => {
  describeLockStoreContract(driver);
  describeLockSafetyContract(driver);
});
