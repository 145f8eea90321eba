import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { assertServicesInjected } from '../core/injection-check.js';
import { CACHEABLE_METADATA, CACHE_EVICT_METADATA, CACHE_PUT_METADATA, CACHE_SERVICE_SLOT } from './cacheable.decorator.js';

/**
 * Fails the boot when an instance with @Cacheable, @CachePut or @CacheEvict methods did not get
 * its CacheService, instead of letting it boot and throw on the first call: a `useFactory` or
 * `useValue` provider, or a class in a module that cannot see a non-global CoordinationModule.
 * The error names every such class, its decorated methods and the fix (see
 * assertServicesInjected).
 *
 * @example
 * // Registered by CoordinationModule. This provider fails the boot:
 * { provide: CrewConfigs, useFactory: () => new CrewConfigs() }
 * // while the class provider gets its CacheService:
 * providers: [CrewConfigs]
 */
@Injectable()
export class CacheDecoratorsExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    assertServicesInjected(this.discovery, this.scanner, {
      slot: CACHE_SERVICE_SLOT,
      decorators: { [CACHEABLE_METADATA]: '@Cacheable()', [CACHE_PUT_METADATA]: '@CachePut()', [CACHE_EVICT_METADATA]: '@CacheEvict()' },
      alternative: 'the CacheService methods',
    });
  }
}
