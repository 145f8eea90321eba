import { Module } from '@nestjs/common';
import { RateLimitDemoController } from './rate-limit-demo.controller.js';

/** Demo endpoints of the rate-limit capability. */
@Module({ controllers: [RateLimitDemoController] })
export class RateLimitDemoModule {}
