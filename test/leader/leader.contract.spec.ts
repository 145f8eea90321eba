import { describeLeaderServiceContract } from '../contract/leader.contract.js';
import { DRIVERS } from '../support/drivers.js';

describe.each(DRIVERS)('LeaderService contract ($name)', (driver) => {
  describeLeaderServiceContract(driver);
});
