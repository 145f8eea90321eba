import type { ExecutionContext } from '@nestjs/common';

/**
 * A value per route, for what a guard or interceptor derives from a handler's metadata on its
 * first request and reuses after (a route's metadata is fixed once Nest built it). Keyed by the
 * controller class and the handler: one handler function may serve several controllers (an
 * inherited method) with different class-level metadata. Held weakly, so it is bounded by the
 * application's routes.
 *
 * @example
 * private readonly optional = new PerRoute<boolean>();
 * let optional = this.optional.get(context);
 * if (optional === undefined) this.optional.set(context, (optional = readMetadata(context)));
 */
export class PerRoute<T> {
  private readonly byController = new WeakMap<object, WeakMap<object, T>>();

  /** The value kept for the route of `context`, undefined before the first `set`. */
  get(context: ExecutionContext): T | undefined {
    return this.byController.get(context.getClass())?.get(context.getHandler());
  }

  set(context: ExecutionContext, value: T): void {
    const controller = context.getClass();
    let byHandler = this.byController.get(controller);
    if (byHandler === undefined) this.byController.set(controller, (byHandler = new WeakMap()));
    byHandler.set(context.getHandler(), value);
  }
}
