import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TenantInvalidError } from '../errors/coordination.error.js';
import { CoordinationCore } from '../core/coordination-core.js';
import type { TenancyOptions } from '../options/core-options.interface.js';
import { resolveOptions } from '../options/resolve-options.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
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
});
