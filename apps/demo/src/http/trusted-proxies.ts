import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { HttpConfig } from '../demo.config.js';

/** Injection token of the demo's `HttpConfig`. */
export const HTTP_CONFIG = Symbol('HTTP_CONFIG');

/** The part of Express's application this provider configures. */
interface SettableApp {
  set(setting: string, value: unknown): unknown;
}

/**
 * Applies `HttpConfig.trustedProxies` as Express's `trust proxy` setting when the app starts
 * (in AppModule rather than main.ts, so that tests booting the module get it too). With an
 * empty list it leaves Express's default: `X-Forwarded-For` ignored, `request.ip` the peer.
 *
 * @example
 * providers: [{ provide: HTTP_CONFIG, useValue: { trustedProxies: ['10.0.0.0/8'] } }, TrustedProxies]
 * // a request from 10.1.2.3 with X-Forwarded-For: 203.0.113.7 → request.ip === '203.0.113.7'
 */
@Injectable()
export class TrustedProxies implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost, @Inject(HTTP_CONFIG) private readonly config: HttpConfig) {}

  onModuleInit(): void {
    if (this.config.trustedProxies.length === 0) return;
    const app = this.adapterHost.httpAdapter?.getInstance<SettableApp>();
    if (typeof app?.set !== 'function') throw new Error('TRUSTED_PROXIES needs the Express HTTP adapter');
    app.set('trust proxy', [...this.config.trustedProxies]);
  }
}
