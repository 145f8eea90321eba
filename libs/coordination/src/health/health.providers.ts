import type { Provider } from '@nestjs/common';
import { CoordinationHealthIndicator } from './coordination-health.indicator.js';

/** Providers this capability registers in CoordinationModule. */
export const HEALTH_PROVIDERS: Provider[] = [CoordinationHealthIndicator];
/** Of those, the ones the module exports to the application. */
export const HEALTH_EXPORTS: Array<Provider | string | symbol | Function> = [CoordinationHealthIndicator];
