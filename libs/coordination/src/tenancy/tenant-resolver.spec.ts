import { jest } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TenantInvalidError } from '../errors/coordination.error.js';
import { CoordinationCore } from '../core/coordination-core.js';
import type { TenancyOptions } from '../options/core-options.interface.js';
import { resolveOptions } from '../options/resolve-options.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { TENANT_OPTIONAL, TenantOptional } from './tenant-optional.decorator.js';
import { AUTHENTICATED_TENANT, TenantResolver } from './tenant-resolver.js';

const resolverWith = (tenancy: TenancyOptions) => {
  const options = resolveOptions({ tenancy });
  return new TenantResolver(options, new CoordinationCore(options), new Reflector());
};

describe('TenantResolver', () => {
  it('reads the configured header, case-insensitively, first value of a repeated header', async () => {
    const resolver = resolverWith({ header: 'X-Company-Id' });
    expect(await resolver.fromRequest({ headers: { 'x-company-id': 'acme' } })).toBe('acme');
    expect(await resolver.fromRequest({ headers: { 'x-company-id': ['acme', 'globex'] } })).toBe('acme');
    expect(await resolver.fromRequest({ headers: { 'x-company-id': '' } })).toBeUndefined();
    expect(await resolver.fromRequest({ headers: { 'x-tenant-id': 'acme' } })).toBeUndefined();
    expect(await resolver.fromRequest(undefined)).toBeUndefined();
  });

  it('starts with `header: undefined` (an unset environment variable) and reads the default header, or the user property', async () => {
    const byHeader = resolverWith({ header: undefined });
    expect(await byHeader.fromRequest({ headers: { 'x-tenant-id': 'acme' } })).toBe('acme');
    const byUser = resolverWith({ header: undefined, userProperty: 'companyId' });
    expect(await byUser.fromRequest({ headers: { 'x-tenant-id': 'from-header' }, user: { companyId: 'acme' } })).toBe('acme');
  });

  it('takes the tenant only from the user property (a nested path) when one is configured, never from the header', async () => {
    const resolver = resolverWith({ userProperty: 'org.id' });
    const headers = { 'x-tenant-id': 'from-header' };
    expect(await resolver.fromRequest({ headers, user: { org: { id: 'acme' } } })).toBe('acme');
    expect(await resolver.fromRequest({ headers, user: { org: { id: 42 } } })).toBe('42');
    expect(await resolver.fromRequest({ headers, user: { org: {} } })).toBeUndefined();
    expect(await resolver.fromRequest({ headers })).toBeUndefined();
  });

  it('names the type of a user property that is neither a string nor a number, instead of reading "[object Object]"', async () => {
    const resolver = resolverWith({ userProperty: 'org' });
    await expect(resolver.fromRequest({ user: { org: { id: 'acme' } } })).rejects.toThrow(TenantInvalidError);
    await expect(resolver.fromRequest({ user: { org: { id: 'acme' } } })).rejects.toThrow('must be a string, got an object');
    await expect(resolver.fromRequest({ user: { org: 7n } })).resolves.toBe('7');
  });

  it('lets a custom resolver win over user and header, sync or async', async () => {
    const request = { headers: { 'x-tenant-id': 'from-header', 'x-org': 'acme' }, user: { companyId: 'globex' } };
    const sync = resolverWith({ userProperty: 'companyId', resolver: (req) => (req as typeof request).headers['x-org'] });
    expect(await sync.fromRequest(request)).toBe('acme');
    const async = resolverWith({ resolver: async () => undefined });
    expect(await async.fromRequest(request)).toBeUndefined();
  });

  it('lets the tenant a guard authenticated the request for (a session\'s) win over resolver, user and header', async () => {
    const request = { headers: { 'x-tenant-id': 'from-header' }, user: { companyId: 'globex' }, [AUTHENTICATED_TENANT]: 'acme' };
    expect(await resolverWith({}).fromRequest(request)).toBe('acme');
    expect(await resolverWith({ userProperty: 'companyId' }).fromRequest(request)).toBe('acme');
    expect(await resolverWith({ resolver: () => 'initech' }).fromRequest(request)).toBe('acme');
    const { [AUTHENTICATED_TENANT]: _, ...unauthenticated } = request;
    expect(await resolverWith({}).fromRequest(unauthenticated)).toBe('from-header');
  });

  it('reads a request authenticated in the shared namespace (a session created outside any tenant) as naming no tenant, whatever it carries', async () => {
    const request = { headers: { 'x-tenant-id': 'from-header' }, user: { companyId: 'globex' }, [AUTHENTICATED_TENANT]: SHARED_TENANT };
    expect(await resolverWith({}).fromRequest(request)).toBeUndefined();
    expect(await resolverWith({ userProperty: 'companyId' }).fromRequest(request)).toBeUndefined();
    expect(await resolverWith({ resolver: () => 'initech' }).fromRequest(request)).toBeUndefined();
    // The handler then runs without a tenant, instead of `_shared` failing the tenant id check (400).
    const context = { switchToHttp: () => ({ getRequest: () => request }), getHandler: () => function me() {}, getClass: () => class MeController {} };
    await expect(resolverWith({}).forHandler(context as unknown as ExecutionContext)).resolves.toBeUndefined();
  });

  it('reads @TenantOptional() once per handler, and only where a tenant is required', async () => {
    class HealthController {
      @TenantOptional()
      check() {}
      run() {}
    }
    const contextOf = (handler: () => void) =>
      ({ switchToHttp: () => ({ getRequest: () => ({ headers: {} }) }), getHandler: () => handler, getClass: () => HealthController }) as unknown as ExecutionContext;
    const optionalLookups = (reflector: Reflector) => {
      const spy = jest.spyOn(reflector, 'getAllAndOverride');
      return () => spy.mock.calls.filter(([key]) => key === TENANT_OPTIONAL).length;
    };

    const options = resolveOptions({ tenancy: { required: true } });
    const reflector = new Reflector();
    const lookups = optionalLookups(reflector);
    const required = new TenantResolver(options, new CoordinationCore(options), reflector);
    for (let i = 0; i < 3; i++) await expect(required.forHandler(contextOf(HealthController.prototype.check))).resolves.toBeUndefined();
    for (let i = 0; i < 3; i++) await expect(required.forHandler(contextOf(HealthController.prototype.run))).rejects.toThrow('A tenant is required');
    expect(lookups()).toBe(2);

    const notRequired = resolveOptions({});
    const unusedReflector = new Reflector();
    const noLookups = optionalLookups(unusedReflector);
    const optional = new TenantResolver(notRequired, new CoordinationCore(notRequired), unusedReflector);
    await expect(optional.forHandler(contextOf(HealthController.prototype.run))).resolves.toBeUndefined();
    expect(noLookups()).toBe(0);
  });
});
