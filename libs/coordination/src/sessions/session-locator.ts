import type { TenantContext } from '../tenancy/tenant-context.js';
import { assertTenantId } from '../keys/key-builder.js';
import type { SessionKeys } from './session-keys.js';
import type { SessionObserver } from './session-observer.js';
import type { SessionStore, UserSessionKeys } from './session-store.interface.js';
import type { SessionCallOptions } from './session.types.js';
import { checkIdArgument, checkOptions, isSessionTenant } from './session-validation.js';

/** A session id taken apart, once its tenant matched the call's. */
export interface SessionTarget {
  readonly tenant: string;
  readonly member: string;
}

/**
 * Finds the session an id names, for the methods of SessionService taking an id
 * (library-internal). An id names its tenant: a call that gives another tenant (its
 * `options.tenant`, else the tenant context) does not find it, and neither does a malformed
 * or forged id (a tenant part no tenant can have, a member of the wrong shape).
 *
 * @example
 * const target = locator.target(id, options); // null: not found
 * const ended = target && (await locator.withOwner(target, 'sessions.destroy', (keys) => store.destroy(keys, target.member)));
 */
export class SessionLocator {
  constructor(
    private readonly tenants: TenantContext,
    private readonly keys: SessionKeys,
    private readonly store: SessionStore,
    private readonly observer: SessionObserver,
  ) {}

  /**
   * The tenant and member of `id` when its tenant is the call's, else null.
   *
   * @throws InvalidArgumentError for an id that is not a string or options that are not an object; TenantInvalidError for a malformed `options.tenant`
   */
  target(id: unknown, options: SessionCallOptions | undefined): SessionTarget | null {
    checkIdArgument(id);
    checkOptions(options);
    const explicit = options?.tenant;
    if (explicit !== undefined) assertTenantId(explicit);
    const parsed = this.keys.parse(id);
    if (!parsed || !isSessionTenant(parsed.tenant)) return null;
    const expected = explicit ?? this.tenants.current();
    return expected === undefined || expected === parsed.tenant ? parsed : null;
  }

  /**
   * Reads the session's user (its index is named after it), then runs `write` on the user's
   * keys: null when the session is gone at either step (e.g. regenerated in between). Two
   * round trips: the index key holds the user id, which only the record knows.
   */
  async withOwner<R>(
    target: SessionTarget, operation: string, write: (keys: UserSessionKeys, userId: string) => Promise<R | null>,
  ): Promise<{ userId: string; result: R } | null> {
    return this.observer.run(operation, async () => {
      const fields = await this.store.read(this.keys.session(target.tenant, target.member), false);
      const userId = fields?.u;
      if (userId === undefined || !this.keys.belongsTo(target.tenant, userId, target.member)) return null;
      const result = await write(this.keys.user(target.tenant, userId), userId);
      return result === null ? null : { userId, result };
    });
  }
}
