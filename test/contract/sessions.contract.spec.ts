import { DRIVERS } from '../support/drivers.js';
import { describeSessionServiceContract } from './sessions.contract.js';

describe.each(DRIVERS)('SessionService contract ($name)', (driver) => {
  describeSessionServiceContract(driver);
});
