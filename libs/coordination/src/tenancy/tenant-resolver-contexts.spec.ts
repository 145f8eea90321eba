import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { ErrorCode, TenantInvalidError, type CoordinationError } from '../errors/coordination.error.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import type { TenancyOptions } from '../options/core-options.interface.js';
import { resolveOptions } from '../options/resolve-options.js';
import { TenantOptional } from './tenant-optional.decorator.js';
import { AUTHENTICATED_TENANT, TenantResolver } from './tenant-resolver.js';

// TenantResolver.fromContext / forContext on the contexts Nest builds for GraphQL resolvers
// (args: root, args, GraphQL context, info), WebSocket message handlers (client, data) and
// microservice handlers (data, RPC context): the real ExecutionContextHost, no server.

class ChatGateway {
  send() {}
  @TenantOptional()
  ping() {}
}

const resolverWith = (tenancy: TenancyOptions) => {
  const options = resolveOptions({ tenancy });
  return new TenantResolver(options, new CoordinationCore(options), new Reflector());
};

function contextOf(type: 'graphql' | 'ws' | 'rpc', args: unknown[], handler: () => void = ChatGateway.prototype.send): ExecutionContext {
  const context = new ExecutionContextHost(args, ChatGateway, handler);
  context.setType(type);
  return context;
}

const socket = (handshake: { headers?: Record<string, string>; auth?: Record<string, unknown> }, extra: Record<string, unknown> = {}) =>
  ({ handshake: { address: '10.0.0.1', headers: {}, ...handshake }, request: { headers: handshake.headers ?? {} }, data: {}, ...extra });
const ws = (client: unknown, handler?: () => void) => contextOf('ws', [client, {}], handler);
const rpc = (data: unknown, metadata?: Record<string, string>) => contextOf('rpc', [data, { getMetadata: () => metadata }]);
const graphql = (req: unknown) => contextOf('graphql', [undefined, {}, { req }, {}]);

async function failure(promise: Promise<unknown>): Promise<CoordinationError> {
  return promise.then(() => { throw new Error('expected a rejection'); }, (error: CoordinationError) => error);
}

describe('TenantResolver on GraphQL, WebSocket and microservice contexts', () => {
  it('WebSocket: the handshake header, else auth.tenantId (what a browser can send); both, naming different tenants, are refused', async () => {
    const resolver = resolverWith({ header: 'x-company-id' });
    const conflicting = await failure(resolver.fromContext(ws(socket({ headers: { 'x-company-id': 'acme' }, auth: { tenantId: 'globex' } }))));
    expect(conflicting).toBeInstanceOf(TenantInvalidError);
    expect(conflicting.message).toMatch(/"x-company-id" header names "acme" but auth\.tenantId names "globex"/);
    expect(await resolver.fromContext(ws(socket({ headers: { 'x-company-id': 'acme' }, auth: { tenantId: 'acme' } })))).toBe('acme');
    expect(await resolver.fromContext(ws(socket({ headers: { 'x-company-id': 'acme' } })))).toBe('acme');
    expect(await resolver.fromContext(ws(socket({ auth: { tenantId: 'globex' } })))).toBe('globex');
    expect(await resolver.fromContext(ws(socket({ auth: { tenantId: 7 } })))).toBe('7');
    expect(await resolver.fromContext(ws(socket({ auth: { tenantId: { id: 'x' } } })))).toBeUndefined();
    expect(await resolver.fromContext(ws(socket({})))).toBeUndefined();
  });

  it('WebSocket with userProperty: only the socket user names the tenant, never a header or auth the client chose', async () => {
    const resolver = resolverWith({ userProperty: 'companyId' });
    const spoofed = { headers: { 'x-tenant-id': 'globex' }, auth: { tenantId: 'globex' } };
    expect(await resolver.fromContext(ws(socket(spoofed, { data: { user: { companyId: 'acme' } } })))).toBe('acme');
    expect(await resolver.fromContext(ws(socket(spoofed)))).toBeUndefined();
  });

  it('WebSocket: the tenant a guard authenticated the handshake for wins; a shared-namespace credential names none, auth included', async () => {
    const resolver = resolverWith({});
    const authenticated = socket({ headers: { 'x-tenant-id': 'globex' }, auth: { tenantId: 'globex' } });
    (authenticated.request as Record<symbol, string>)[AUTHENTICATED_TENANT] = 'acme';
    expect(await resolver.fromContext(ws(authenticated))).toBe('acme');
    (authenticated.request as Record<symbol, string>)[AUTHENTICATED_TENANT] = SHARED_TENANT;
    expect(await resolver.fromContext(ws(authenticated))).toBeUndefined();
  });

  it('WebSocket with tenancy.resolver: the resolver on the handshake request; tenancy.resolvers.ws on the socket wins over both', async () => {
    const byRequest = resolverWith({ resolver: (request) => (request as { headers: Record<string, string> }).headers['x-org'] });
    expect(await byRequest.fromContext(ws(socket({ headers: { 'x-org': 'initech' }, auth: { tenantId: 'acme' } })))).toBe('initech');
    const bySocket = resolverWith({ resolver: () => 'never', resolvers: { ws: async (client: { data: { org?: string } }) => client.data.org ?? null } });
    expect(await bySocket.fromContext(ws(socket({}, { data: { org: 'globex' } })))).toBe('globex');
    expect(await bySocket.fromContext(ws(socket({})))).toBeUndefined();
  });

  it('RPC: the packet metadata under the tenancy header, else the payload tenantId; tenancy.resolvers.rpc wins', async () => {
    const resolver = resolverWith({});
    expect(await resolver.fromContext(rpc({ tenantId: 'globex' }, { 'x-tenant-id': 'acme' }))).toBe('acme');
    expect(await resolver.fromContext(rpc({ tenantId: 'globex' }))).toBe('globex');
    expect(await resolver.fromContext(rpc({ tenantId: 42 }))).toBe('42');
    expect(await resolver.fromContext(rpc('plain string payload'))).toBeUndefined();
    const custom = resolverWith({ resolvers: { rpc: (data: { org: string }) => data.org } });
    expect(await custom.fromContext(rpc({ org: 'initech', tenantId: 'acme' }))).toBe('initech');
  });

  it('GraphQL: the HTTP request behind the operation, read like any request; tenancy.resolvers.graphql gets the GraphQL context', async () => {
    expect(await resolverWith({}).fromContext(graphql({ headers: { 'x-tenant-id': 'acme' } }))).toBe('acme');
    expect(await resolverWith({ userProperty: 'org' }).fromContext(graphql({ headers: { 'x-tenant-id': 'acme' }, user: { org: 'globex' } }))).toBe('globex');
    const custom = resolverWith({ resolvers: { graphql: (ctx: { req: { headers: Record<string, string> } }) => ctx.req.headers['x-org'] } });
    expect(await custom.fromContext(graphql({ headers: { 'x-org': 'initech', 'x-tenant-id': 'acme' } }))).toBe('initech');
  });

  it('forContext validates, and a GraphQL operation without a tenant of its own runs in the context tenant (the middleware one); a socket never does', async () => {
    const options = resolveOptions({ tenancy: { required: true } });
    const core = new CoordinationCore(options);
    const resolver = new TenantResolver(options, core, new Reflector());
    await core.tenants.run('acme', async () => {
      expect(await resolver.forContext(graphql({ headers: {} }))).toBe('acme');
      expect((await failure(resolver.forContext(ws(socket({}))))).code).toBe(ErrorCode.TenantRequired);
    });
    expect((await failure(resolver.forContext(ws(socket({ auth: { tenantId: 'ac*me' } }))))).code).toBe(ErrorCode.TenantInvalid);
    expect(await resolver.forContext(ws(socket({}), ChatGateway.prototype.ping))).toBeUndefined();
  });

  it('GraphQL: an operation naming another tenant than the one its HTTP request runs in (the middleware header) is refused, not split between the two', async () => {
    const options = resolveOptions({ tenancy: { resolvers: { graphql: (ctx: { req: { headers: Record<string, string> } }) => ctx.req.headers['x-org'] } } });
    const core = new CoordinationCore(options);
    const resolver = new TenantResolver(options, core, new Reflector());
    await core.tenants.run('globex', async () => {
      const mismatch = await failure(resolver.forContext(graphql({ headers: { 'x-org': 'acme' } })));
      expect(mismatch).toBeInstanceOf(TenantInvalidError);
      expect(mismatch.message).toMatch(/ChatGateway\.send names tenant "acme" but its HTTP request runs in "globex"/);
      expect(await resolver.forContext(graphql({ headers: { 'x-org': 'globex' } }))).toBe('globex');
    });
    expect(await resolver.forContext(graphql({ headers: { 'x-org': 'acme' } }))).toBe('acme');
  });

  it('tenancy.resolver is not called without a request (a socket without a handshake request, a GraphQL context without req): no tenant, no TypeError', async () => {
    const resolver = resolverWith({ resolver: (request) => (request as { headers: Record<string, string> }).headers['x-org'] });
    expect(await resolver.fromContext(ws({ handshake: { headers: { 'x-org': 'acme' } }, data: {} }))).toBeUndefined();
    expect(await resolver.fromContext(contextOf('graphql', [undefined, {}, { connectionParams: {} }, {}]))).toBeUndefined();
    const required = resolverWith({ required: true, resolver: (request) => (request as { headers: Record<string, string> }).headers['x-org'] });
    expect((await failure(required.forContext(ws({ handshake: { headers: {} }, data: {} })))).code).toBe(ErrorCode.TenantRequired);
  });

  it('RPC with userProperty: the tenant is the payload user\'s (as sent), never its tenantId or the metadata header', async () => {
    const resolver = resolverWith({ userProperty: 'org.id' });
    expect(await resolver.fromContext(rpc({ tenantId: 'globex', user: { org: { id: 'acme' } } }, { 'x-tenant-id': 'globex' }))).toBe('acme');
    expect(await resolver.fromContext(rpc({ tenantId: 'globex' }, { 'x-tenant-id': 'globex' }))).toBeUndefined();
    expect((await failure(resolverWith({ userProperty: 'org', required: true }).forContext(rpc({ tenantId: 'globex' })))).message).toMatch(/payload's user\.org/);
  });

  it('tells each context what it should have carried when a required tenant is missing', async () => {
    const resolver = resolverWith({ required: true, header: 'x-company-id' });
    expect((await failure(resolver.forContext(ws(socket({}))))).message).toMatch(/ChatGateway\.send.*"x-company-id" header of the handshake, or as auth\.tenantId/);
    expect((await failure(resolver.forContext(rpc({})))).message).toMatch(/payload's "tenantId" or in the packet metadata's "x-company-id"/);
    expect((await failure(resolver.forContext(graphql({ headers: {} })))).message).toMatch(/send the tenant id in the "x-company-id" header/);
    const custom = resolverWith({ required: true, resolvers: { rpc: () => undefined } });
    expect((await failure(custom.forContext(rpc({ tenantId: 'acme' })))).message).toMatch(/tenancy\.resolvers\.rpc found none/);
  });
});
