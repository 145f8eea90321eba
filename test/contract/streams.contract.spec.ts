import { DRIVERS } from '../support/drivers.js';
import { describeStreamServiceContract } from './streams.contract.js';
import { describeStreamConsumerContract } from './streams.contract-consumers.js';

describe.each(DRIVERS)('StreamService contract ($name)', (driver) => {
  describeStreamServiceContract(driver);
  describe('consumers', () => describeStreamConsumerContract(driver));
});
