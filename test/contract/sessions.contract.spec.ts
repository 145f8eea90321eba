import { DRIVERS } from '../support/drivers.js';
import { describeSessionServiceContract } from './sessions.contract.js';
import { describeSessionHandleContract } from './sessions.contract-handles.js';

describe.each(DRIVERS)('SessionService contract ($name)', (driver) => {
  describeSessionServiceContract(driver);
  describe('handles', () => describeSessionHandleContract(driver));
});
