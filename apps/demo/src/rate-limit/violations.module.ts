import { Module } from '@nestjs/common';
import { ViolationsController } from './violations.controller.js';

/** The rate-limit violations view of the demo; the limits themselves are `@RateLimit` rules on crew routes. */
@Module({ controllers: [ViolationsController] })
export class ViolationsModule {}
