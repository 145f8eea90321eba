import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { assertServicesInjected } from '../core/injection-check.js';
import { LOCK_SERVICE_SLOT, WITH_LOCK_METADATA } from './with-lock.decorator.js';

/**
 * Fails the boot when an instance with `@WithLock` methods did not get its LockService, instead
 * of letting it boot and throw on the first call. Nest injects it only into instances it builds
 * from a class, in a module that can see CoordinationModule's exports; a `useFactory` or
 * `useValue` provider, or a class in a module that cannot see a non-global CoordinationModule,
 * has none. The error names every such class with its fix (see assertServicesInjected).
 *
 * @example
 * // Registered by CoordinationModule. This provider fails the boot:
 * { provide: ReportWorker, useFactory: () => new ReportWorker() }
 * // while the class provider gets its LockService:
 * providers: [ReportWorker]
 */
@Injectable()
export class WithLockExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    assertServicesInjected(this.discovery, this.scanner, {
      slot: LOCK_SERVICE_SLOT,
      decorators: { [WITH_LOCK_METADATA]: '@WithLock()' },
      alternative: 'locks.withLock()',
    });
  }
}
