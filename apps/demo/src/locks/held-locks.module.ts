import { Module } from '@nestjs/common';
import { HeldLocksController } from './held-locks.controller.js';

/** The held-locks view of the demo; the locks themselves are taken by `CrewRunner`. */
@Module({ controllers: [HeldLocksController] })
export class HeldLocksModule {}
