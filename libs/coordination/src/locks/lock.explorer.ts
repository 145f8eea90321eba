import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { LockService } from './lock.service.js';
import { LOCK_SERVICE_REF, hasWithLockMethods, registerLockService } from './with-lock.decorator.js';

/**
 * Binds @WithLock methods to this module's LockService: walks singleton providers and
 * controllers at init and attaches the service to every instance that has a @WithLock method
 * (a non-enumerable symbol property). Two Nest apps in one process therefore never share locks
 * by accident. Also registers the service as the fallback for instances it cannot see.
 */
@Injectable()
export class LockExplorer implements OnModuleInit, OnApplicationShutdown {
  private unregister?: () => void;

  constructor(private readonly discovery: DiscoveryService, private readonly locks: LockService) {}

  onModuleInit(): void {
    this.unregister = registerLockService(this.locks);
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      if (!hasWithLockMethods(Object.getPrototypeOf(instance))) continue;
      Object.defineProperty(instance, LOCK_SERVICE_REF, { value: this.locks, enumerable: false, configurable: true, writable: true });
    }
  }

  onApplicationShutdown(): void {
    this.unregister?.();
  }
}
