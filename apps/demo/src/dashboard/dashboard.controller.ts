import { applyDecorators, Controller, Get, Header, Req, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
import { SkipRateLimit, TenantOptional } from '@nest-coordination/core';
import type { Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import type { DemoRequest } from '../auth/demo-auth.guard.js';
import { Public } from '../auth/public.decorator.js';
import { DashboardAssets, DASHBOARD_FILES, type DashboardFile } from './dashboard-assets.js';
import { DashboardFeed } from './dashboard-feed.service.js';
import { DashboardService } from './dashboard.service.js';
import type { DashboardSnapshot } from './dashboard.types.js';

/**
 * The page may load its own script and stylesheet and talk to its own origin, nothing else: no
 * inline script, no framing by another site. Data is written with `textContent` anyway.
 */
const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * A route serving one of the page's files: open to anyone (no login, company or rate limit), with
 * its content type, revalidated at each load, never sniffed as another type.
 */
const PageFile = (file: DashboardFile): MethodDecorator => applyDecorators(
  Public(), TenantOptional(), SkipRateLimit(),
  Header('Content-Type', DASHBOARD_FILES[file]), Header('Cache-Control', 'no-cache'), Header('X-Content-Type-Options', 'nosniff'),
);

/**
 * The live coordination dashboard of the caller's company.
 *
 * - `GET /dashboard`: the page (static HTML, `dashboard.js`, `dashboard.css`), open to anyone:
 *   without a session it says so and offers the login. No build step: the files are served as
 *   they are in `apps/demo/public/dashboard/`.
 * - `GET /dashboard/snapshot`: the company's `DashboardSnapshot` as JSON.
 * - `GET /dashboard/stream`: server-sent events, `event: snapshot` with the same JSON every second
 *   and at once when a lock of the company is acquired or released (`DashboardFeed`). Opened
 *   with a session, it ends with `event: session-ended` when that session ends. At most
 *   `streams.maxPerUser` open per user and instance (429 beyond).
 *
 * Both data routes are authenticated like every other route (`DemoAuthGuard`): the session
 * cookie, which the page's `EventSource` sends (it cannot send headers), or the bearer token or
 * `x-user-id` headers of scripts. The company is always the caller's.
 *
 * @example
 * // curl -b jar.txt localhost:3000/dashboard/snapshot   → {"companyId":"acme","locks":[...],...}
 * // curl -N -b jar.txt localhost:3000/dashboard/stream  → event: snapshot\ndata: {...}
 */
@Controller('dashboard')
export class DashboardController {
  constructor(private readonly assets: DashboardAssets, private readonly dashboard: DashboardService, private readonly feed: DashboardFeed) {}

  @Get()
  @PageFile('index.html')
  @Header('Content-Security-Policy', PAGE_POLICY)
  page(): string {
    return this.assets.file('index.html');
  }

  @Get('dashboard.js')
  @PageFile('dashboard.js')
  script(): string {
    return this.assets.file('dashboard.js');
  }

  @Get('dashboard.css')
  @PageFile('dashboard.css')
  styles(): string {
    return this.assets.file('dashboard.css');
  }

  /** The caller's company now. */
  @Get('snapshot')
  @Header('Cache-Control', 'private, no-store')
  snapshot(@CurrentUser() user: AuthUser): Promise<DashboardSnapshot> {
    return this.dashboard.snapshot(user.companyId);
  }

  /** The caller's company, live, until the client leaves or the session it was opened with ends. */
  @Sse('stream')
  stream(@CurrentUser() user: AuthUser, @Req() request: DemoRequest, @SseSignal() closed: AbortSignal): Observable<MessageEvent> {
    return this.feed.open(user, request.coordinationSession, closed);
  }
}
