import { NotFoundException, type OnApplicationShutdown } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, WsException, type OnGatewayDisconnect } from '@nestjs/websockets';
import { LockService, RateLimit } from '@nest-coordination/core';
import type { Subscription } from 'rxjs';
import type { Namespace, Socket } from 'socket.io';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { crewRunLockKey } from './crew-runner.service.js';
import { CrewEventsService } from './crew-events.service.js';
import { CrewsService } from './crews.service.js';

/** What `crew.subscribe` answers: the crew, and its run in progress anywhere in the fleet (from its lock), if any. */
export interface CrewSubscription {
  crewId: string;
  running: { fencingToken: number; expiresInMs: number } | null;
}

/** A crew event as the `crew.event` socket message carries it. */
export interface CrewSocketEvent {
  channel: string;
  crewId: string;
  type: string;
  data: Record<string, unknown>;
  at: number;
}

/** What a subscribed socket gets when its company's feed is lost: subscribe again to resume (events meanwhile are not replayed). */
const FEED_LOST = { status: 'error', code: 'E_STREAM_LOST', message: 'The crew event subscription was lost; send crew.subscribe again to resume' };

/** A crew id as a message may name one: what the HTTP routes accept in their path. */
const CREW_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/**
 * The `/crews` socket.io namespace: a client subscribes to crews of its company
 * (`crew.subscribe` with `{ crewId }`) and gets their events (`crew.event`: published over HTTP,
 * runs included) from every instance. The same global guards as HTTP apply to each message:
 * `DemoAuthGuard` (the handshake's session cookie, or the `x-user-id` + `x-company-id` headers a
 * script sends as `extraHeaders`), `RateLimitGuard` (`@RateLimit`: a denial is the `exception`
 * event `{ status: 'error', code: 'E_RATE_LIMITED', retryAfterMs, ... }`), and `TenantInterceptor`
 * (the handler runs in the user's company, `tenancy.resolvers.ws`).
 *
 * One EventBus subscription per company and instance feeds the company's rooms, opened by its
 * first subscriber and closed when its last one leaves.
 *
 * @example
 * const socket = io('http://localhost:3000/crews', { extraHeaders: { 'x-user-id': 'u-ada', 'x-company-id': 'acme' } });
 * socket.on('crew.event', (event) => console.log(event.type, event.data));
 * socket.on('exception', (error) => console.warn(error.code, error.retryAfterMs));
 * await socket.emitWithAck('crew.subscribe', { crewId: 'market-research' }); // { crewId, running: { fencingToken, expiresInMs } | null }
 */
@WebSocketGateway({ namespace: 'crews' })
export class CrewEventsGateway implements OnGatewayDisconnect, OnApplicationShutdown {
  @WebSocketServer() private readonly server!: Namespace;
  /** The feed of each company with subscribers on this instance, and the sockets it feeds. */
  private readonly feeds = new Map<string, { subscription: Subscription; sockets: Set<string> }>();

  constructor(private readonly crews: CrewsService, private readonly events: CrewEventsService, private readonly locks: LockService) {}

  /**
   * Subscribes the socket to one crew of its company: 30 a minute per user, 300 per company. The
   * answer says whether the crew is running anywhere in the fleet (`LockService.inspect` of its
   * `crew-run:<crewId>` lock, in the company's tenant). Another company's crew, or a malformed
   * id, is the `exception` event with `code: 'NOT_FOUND'` / `'BAD_REQUEST'`.
   */
  @RateLimit([
    { scope: 'user', name: 'crew-subscribe-user', limit: 30, windowMs: 60_000 },
    { scope: 'tenant', name: 'crew-subscribe-company', limit: 300, windowMs: 60_000 },
  ])
  @SubscribeMessage('crew.subscribe')
  async subscribe(@CurrentUser() user: AuthUser, @MessageBody() body: unknown, @ConnectedSocket() client: Socket): Promise<CrewSubscription> {
    const crewId = crewIdOf(body);
    await this.crews.definition(user.companyId, crewId).catch((error: unknown) => {
      throw error instanceof NotFoundException ? new WsException({ status: 'error', code: 'NOT_FOUND', message: error.message }) : error;
    });
    await client.join(roomOf(user.companyId, crewId));
    this.feedOf(user.companyId).sockets.add(client.id);
    const lock = await this.locks.inspect(crewRunLockKey(crewId));
    return { crewId, running: lock.held ? { fencingToken: lock.fencingToken!, expiresInMs: lock.expiresInMs! } : null };
  }

  /** Stops the socket's events of one crew. */
  @SubscribeMessage('crew.unsubscribe')
  async unsubscribe(@CurrentUser() user: AuthUser, @MessageBody() body: unknown, @ConnectedSocket() client: Socket): Promise<{ crewId: string }> {
    const crewId = crewIdOf(body);
    await client.leave(roomOf(user.companyId, crewId));
    if (![...client.rooms].some((room) => room.startsWith(`${user.companyId}:`))) this.release(user.companyId, client.id);
    return { crewId };
  }

  handleDisconnect(client: Socket): void {
    for (const companyId of [...this.feeds.keys()]) this.release(companyId, client.id);
  }

  onApplicationShutdown(): void {
    for (const { subscription } of this.feeds.values()) subscription.unsubscribe();
    this.feeds.clear();
  }

  /** The company's feed, opened on its first subscriber: every `crew.*` event of the company, to its crew's room. */
  private feedOf(companyId: string): { subscription: Subscription; sockets: Set<string> } {
    let feed = this.feeds.get(companyId);
    if (feed === undefined) {
      const subscription = this.events.stream(companyId).subscribe({
        next: (event) => {
          const { crewId, type, data } = event.payload;
          const message: CrewSocketEvent = { channel: event.channel, crewId, type, data, at: event.timestamp };
          this.server.to(roomOf(companyId, crewId)).emit('crew.event', message);
        },
        // The subscription is lost (Redis unreachable for too long): its sockets are told, as the
        // SSE stream's clients are, and subscribe again, which opens a new feed.
        error: () => {
          const sockets = this.feeds.get(companyId)?.sockets ?? new Set<string>();
          this.feeds.delete(companyId);
          for (const id of sockets) this.server.sockets.get(id)?.emit('exception', FEED_LOST);
        },
      });
      this.feeds.set(companyId, (feed = { subscription, sockets: new Set() }));
    }
    return feed;
  }

  private release(companyId: string, socketId: string): void {
    const feed = this.feeds.get(companyId);
    if (feed === undefined || !feed.sockets.delete(socketId) || feed.sockets.size > 0) return;
    feed.subscription.unsubscribe();
    this.feeds.delete(companyId);
  }
}

function roomOf(companyId: string, crewId: string): string {
  return `${companyId}:${crewId}`;
}

function crewIdOf(body: unknown): string {
  const crewId = (body as { crewId?: unknown } | null | undefined)?.crewId;
  if (typeof crewId !== 'string' || !CREW_ID.test(crewId)) {
    throw new WsException({ status: 'error', code: 'BAD_REQUEST', message: 'crewId must be a crew id: letters, digits, "_" or "-", at most 100' });
  }
  return crewId;
}
