import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';

/**
 * `replayDeadLetter` found no dead letter with that id in the stream (never written, trimmed, or
 * already replayed).
 *
 * @example
 * try { await streams.replayDeadLetter('orders', id); } catch (e) { if (e instanceof DeadLetterNotFoundError) {} }
 */
export class DeadLetterNotFoundError extends CoordinationError {
  constructor(readonly stream: string, readonly deadLetterId: string) {
    super(ErrorCode.DeadLetterNotFound, `No dead letter ${deadLetterId} in stream ${JSON.stringify(stream)} (unknown, trimmed or already replayed)`, { stream, deadLetterId });
  }
}

/**
 * `consume` was called while the application shuts down (consumers are being stopped).
 *
 * @example
 * if (err instanceof StreamShutdownError) return; // the app is stopping
 */
export class StreamShutdownError extends CoordinationError {
  constructor(readonly stream: string, readonly group: string) {
    super(ErrorCode.StreamShutdown, `Cannot start a consumer of ${JSON.stringify(stream)} (group ${JSON.stringify(group)}): the application is shutting down`, { stream, group });
  }
}
