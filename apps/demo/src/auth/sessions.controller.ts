import { Controller, Get, Header, Req } from '@nestjs/common';
import { SessionService } from '@nest-coordination/core';
import type { AuthUser } from './auth-user.model.js';
import { CurrentUser } from './current-user.decorator.js';
import type { DemoRequest } from './demo-auth.guard.js';

/** One entry of `GET /sessions`: a session of the caller, without its id (a secret). */
export interface SessionView {
  /** Non-secret reference to the session. */
  handle: string;
  /** Whether this is the session the request came with. */
  current: boolean;
  createdAt: string;
  lastActivity: string;
  expiresAt: string;
  absoluteExpiresAt: string;
  /** The `User-Agent` of the login, when it sent one. */
  userAgent: string | null;
}

/**
 * `GET /sessions`: the caller's live sessions in their company, oldest first.
 *
 * @example
 * // GET /sessions (Cookie: demo.sid=…) → [{"handle":"…","current":false,…,"userAgent":"curl/8.5"}, {"handle":"…","current":true,…}]
 */
@Controller('sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  @Header('Cache-Control', 'private, no-store')
  async list(@CurrentUser() user: AuthUser, @Req() request: DemoRequest): Promise<SessionView[]> {
    const current = request.coordinationSession?.handle;
    const sessions = await this.sessions.listForUser(user.id, { tenant: user.companyId });
    return sessions.map((s) => ({
      handle: s.handle,
      current: s.handle === current,
      createdAt: s.createdAt.toISOString(),
      lastActivity: s.lastActivity.toISOString(),
      expiresAt: s.expiresAt.toISOString(),
      absoluteExpiresAt: s.absoluteExpiresAt.toISOString(),
      userAgent: typeof s.metadata.userAgent === 'string' ? s.metadata.userAgent : null,
    }));
  }
}
