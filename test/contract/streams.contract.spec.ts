import { DRIVERS } from '../support/drivers.js';
import { describeStreamServiceContract } from './streams.contract.js';
import { describeStreamConsumerContract } from './streams.contract-consumers.js';
import { describeStreamFlowContract } from './streams.contract-flow.js';
import { describeStreamRecoveryContract } from './streams.contract-recovery.js';

describe.each(DRIVERS)('StreamService contract ($name)', (driver) => {
  describeStreamServiceContract(driver);
  describe('consumers', () => describeStreamConsumerContract(driver));
  describe('consumers moving entries along', () => describeStreamFlowContract(driver));
  describe('consumers when store calls fail', () => describeStreamRecoveryContract(driver));
});
