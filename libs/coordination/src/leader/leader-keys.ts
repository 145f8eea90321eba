import { SHARED_TENANT, type KeyBuilder } from '../keys/key-builder.js';
import type { JobKeys, LeaderKeys as RoleKeys } from './leader-store.interface.js';

/** Key segment of leadership roles: `<prefix>:<tenant>:leader:{<role>}`. */
const LEADER = 'leader';
/** Key segment of singleton jobs: `<prefix>:_shared:jobs:{<name>}`. */
const JOBS = 'jobs';
/** Suffix of the fencing counter beside a lease or job state. */
const FENCE = 'fence';

/**
 * The keys of leader election and singleton jobs (library-internal), all from the KeyBuilder:
 * each role's lease and fencing counter share the role's hash tag; each job's state and fencing
 * counter share the job name's, in the shared namespace (a job runs once per fleet, whatever the
 * tenant).
 *
 * @example
 * const keys = new LeaderKeys(core.keys);
 * keys.leader('acme', 'billing'); // { lease: 'coord:acme:leader:{billing}', fence: 'coord:acme:leader:{billing}:fence' }
 * keys.job('nightly-report');     // { state: 'coord:_shared:jobs:{nightly-report}', fence: '…:fence' }
 */
export class LeaderKeys {
  constructor(private readonly keys: KeyBuilder) {}

  /** The lease and fencing counter of `role` in `tenant`. */
  leader(tenant: string, role: string): RoleKeys {
    return { lease: this.keys.key(tenant, LEADER, role), fence: this.keys.key(tenant, LEADER, role, { suffix: FENCE }) };
  }

  /** The state hash and fencing counter of the singleton job `name`. */
  job(name: string): JobKeys {
    return { state: this.keys.key(SHARED_TENANT, JOBS, name), fence: this.keys.key(SHARED_TENANT, JOBS, name, { suffix: FENCE }) };
  }
}
