import { Controller, Get } from '@nestjs/common';
import { LockService, type HeldLockInfo } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';

/** `GET /locks`: the locks this instance holds for the caller's company (crew runs in progress). */
@Controller('locks')
export class HeldLocksController {
  constructor(private readonly locks: LockService) {}

  /** Key, owner, fencing token, acquired/expiry times and renewals of each held lock. */
  @Get()
  held(@CurrentUser() user: AuthUser): HeldLockInfo[] {
    return this.locks.held().filter((lock) => lock.tenant === user.companyId);
  }
}
