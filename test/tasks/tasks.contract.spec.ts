import { DRIVERS } from '../support/drivers.js';
import { describeTaskServiceContract } from '../contract/tasks.contract.js';
import { describeTaskLifecycleContract } from '../contract/tasks.contract-lifecycle.js';
import { describeTaskOutcomeContract } from '../contract/tasks.contract-outcomes.js';

describe.each(DRIVERS)('TaskService contract ($name)', (driver) => {
  describeTaskServiceContract(driver);
  describe('a task from enqueue to shutdown', () => describeTaskLifecycleContract(driver));
  describe('attempt outcomes, shared namespace, strict options, shutdown', () => describeTaskOutcomeContract(driver));
});
