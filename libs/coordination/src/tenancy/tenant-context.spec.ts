import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, TenantInvalidError, TenantRequiredError } from '../errors/coordination.error.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { TenantContext } from './tenant-context.js';

describe('TenantContext', () => {
  it('carries the tenant through awaits and timers, and keeps concurrent contexts apart', async () => {
    const tenants = new TenantContext(true);
    const seen = await Promise.all(
      ['acme', 'globex'].map((tenant) =>
        tenants.run(tenant, async () => {
          await sleep(5);
          const afterTimer = await new Promise<string | undefined>((resolve) => setImmediate(() => resolve(tenants.current())));
          return [tenants.current(), afterTimer, tenants.resolve()];
        }),
      ),
    );
    expect(seen).toEqual([
      ['acme', 'acme', 'acme'],
      ['globex', 'globex', 'globex'],
    ]);
    expect(tenants.current()).toBeUndefined();
  });

  it('lets an explicit tenant win over the context, and validates it', () => {
    const tenants = new TenantContext(false);
    tenants.run('acme', () => {
      expect(tenants.resolve('globex')).toBe('globex');
      expect(() => tenants.resolve('glo*bex')).toThrow(TenantInvalidError);
    });
  });

  it('falls back to the shared tenant only when tenancy is not required', () => {
    expect(new TenantContext(false).resolve()).toBe(SHARED_TENANT);
    const required = new TenantContext(true);
    expect(required.isRequired).toBe(true);
    let error: unknown;
    try {
      required.resolve(undefined, 'locks.acquire');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TenantRequiredError);
    expect((error as TenantRequiredError).code).toBe(ErrorCode.TenantRequired);
    expect((error as Error).message).toContain('locks.acquire');
  });

  it('nests: the inner run wins and the outer tenant comes back after it', () => {
    const tenants = new TenantContext(true);
    tenants.run('outer', () => {
      tenants.run('inner', () => expect(tenants.current()).toBe('inner'));
      expect(tenants.current()).toBe('outer');
    });
  });
});
