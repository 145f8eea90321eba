import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { COORDINATION_RESOLVED_OPTIONS } from '../core/coordination.tokens.js';
import { WITH_LOCK_METADATA } from '../locks/with-lock.decorator.js';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';
import { RATE_LIMIT_METADATA, SKIP_RATE_LIMIT_METADATA } from '../rate-limit/rate-limit.decorator.js';
import { TENANT_OPTIONAL } from '../tenancy/tenant-optional.decorator.js';
import { ContextExceptions, exceptionModuleOf } from './context-exceptions.js';

// Metadata keys of @nestjs/websockets (`@WebSocketGateway`, `@SubscribeMessage`) and
// @nestjs/microservices (`@MessagePattern`, `@EventPattern`), read by value: the library's core
// does not load those packages.
const GATEWAY_METADATA = 'websockets:is_gateway';
const MESSAGE_MAPPING_METADATA = 'websockets:message_mapping';
const PATTERN_METADATA = 'microservices:pattern';

/**
 * Fails the boot when a WebSocket gateway's or a microservice controller's handler needs the
 * library to answer its clients with the context's exception (it has `@RateLimit` or
 * `@WithLock`, or `tenancy.required` is on and it is not `@TenantOptional()`) while the module
 * that provides that exception is missing: `CoordinationWebSocketsModule`
 * (`@nest-coordination/core/websockets`, a `WsException`) or `CoordinationMicroservicesModule`
 * (`@nest-coordination/core/microservices`, an `RpcException`). Without it, every refusal would
 * reach the client as "Internal server error". GraphQL needs no module. Registered by
 * CoordinationModule.
 *
 * @example
 * // fails the boot: import CoordinationWebSocketsModule from '@nest-coordination/core/websockets'
 * @WebSocketGateway() class ChatGateway { @RateLimit({ limit: 5, windowMs: 1_000 }) @SubscribeMessage('say') say() {} }
 */
@Injectable()
export class ContextsExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly exceptions: ContextExceptions,
    @Inject(COORDINATION_RESOLVED_OPTIONS) private readonly options: ResolvedCoordinationOptions,
  ) {}

  onModuleInit(): void {
    const problems: string[] = [];
    if (!this.exceptions.supports('ws')) {
      for (const wrapper of this.discovery.getProviders()) {
        const metatype = wrapper.metatype as object | null | undefined;
        if (!metatype || !Reflect.getMetadata(GATEWAY_METADATA, metatype)) continue;
        problems.push(...this.problems(wrapper, MESSAGE_MAPPING_METADATA, 'ws'));
      }
    }
    if (!this.exceptions.supports('rpc')) {
      for (const wrapper of this.discovery.getControllers()) problems.push(...this.problems(wrapper, PATTERN_METADATA, 'rpc'));
    }
    if (problems.length > 0) {
      throw new Error(`Handlers whose refusals would reach their clients as "Internal server error":\n- ${problems.join('\n- ')}`);
    }
  }

  /** The handlers of `wrapper`'s class marked with `handlerKey` that need the exception of `type`, as messages. */
  private problems(wrapper: InstanceWrapper, handlerKey: string, type: 'ws' | 'rpc'): string[] {
    const metatype = wrapper.metatype as (new (...args: unknown[]) => unknown) | null | undefined;
    if (wrapper.isAlias || typeof metatype !== 'function') return [];
    const prototype = metatype.prototype as Record<string, unknown>;
    return this.scanner
      .getAllMethodNames(prototype)
      .filter((name) => typeof prototype[name] === 'function' && Reflect.hasMetadata(handlerKey, prototype[name] as object))
      .flatMap((name) => {
        const reasons = this.needs(metatype, prototype[name] as object);
        if (reasons.length === 0) return [];
        const kind = type === 'ws' ? 'a WebSocket message handler' : 'a microservice message handler';
        return [`${metatype.name}.${name} (${reasons.join(', ')}) is ${kind}: import ${exceptionModuleOf(type)}`];
      });
  }

  /** Why a handler needs the context's exception: what may refuse its calls. */
  private needs(controller: object, handler: object): string[] {
    const reasons: string[] = [];
    const skipped = Reflect.getMetadata(SKIP_RATE_LIMIT_METADATA, handler) ?? Reflect.getMetadata(SKIP_RATE_LIMIT_METADATA, controller);
    if (!skipped && (Reflect.getMetadata(RATE_LIMIT_METADATA, handler) ?? Reflect.getMetadata(RATE_LIMIT_METADATA, controller))) reasons.push('@RateLimit');
    if (Reflect.hasMetadata(WITH_LOCK_METADATA, handler)) reasons.push('@WithLock');
    const optional = Reflect.getMetadata(TENANT_OPTIONAL, handler) ?? Reflect.getMetadata(TENANT_OPTIONAL, controller);
    if (this.options.tenancy.required && optional !== true) reasons.push('tenancy.required');
    return reasons;
  }
}
