import { AsyncLocalStorage } from 'node:async_hooks';
import { TenantRequiredError } from '../errors/coordination.error.js';
import { SHARED_TENANT, assertTenantId } from '../keys/key-builder.js';

/**
 * Carries the current tenant through async calls. Services resolve the tenant of an
 * operation as: the explicit `tenant` argument, else the context's, else (only when
 * tenancy is not required) the reserved shared namespace. There is never a silent fall
 * back to the shared namespace when `tenancy.required` is on.
 *
 * @example
 * await tenants.run('acme', () => cache.set('plan', 'pro')); // stored under tenant acme
 */
export class TenantContext {
  private readonly storage = new AsyncLocalStorage<string>();

  constructor(private readonly required: boolean) {}

  /** Runs `fn` with `tenant` as the current tenant. */
  run<T>(tenant: string, fn: () => T): T {
    assertTenantId(tenant);
    return this.storage.run(tenant, fn);
  }

  /**
   * Runs `fn` outside any tenant context. Callbacks of a connection opened inside a request
   * inherit that request's context; library code delivering shared-namespace work from
   * such callbacks uses this so that it never runs as the request's tenant.
   */
  exit<T>(fn: () => T): T {
    return this.storage.exit(fn);
  }

  /** The tenant of the current async context, if any. */
  current(): string | undefined {
    return this.storage.getStore();
  }

  /** Whether operations without a tenant are rejected. */
  get isRequired(): boolean {
    return this.required;
  }

  /**
   * The tenant an operation runs under. Throws `TenantInvalidError` for a malformed
   * explicit tenant and `TenantRequiredError` when none is known and one is required.
   */
  resolve(explicit?: string, operation?: string): string {
    if (explicit !== undefined) {
      assertTenantId(explicit);
      return explicit;
    }
    const current = this.storage.getStore();
    if (current !== undefined) return current;
    if (this.required) throw new TenantRequiredError(operation);
    return SHARED_TENANT;
  }
}
