import { request, type IncomingHttpHeaders } from 'node:http';

/** An HTTP answer as the soak keeps it: status, headers, body text, and when it was sent and answered (ms since the epoch). */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  sentAt: number;
  answeredAt: number;
}

/**
 * What became of a request:
 * - `answered`: the server answered (any status);
 * - `refused`: the connection was refused, so the server never saw it (safe to send elsewhere);
 * - `unknown`: the connection broke or timed out after it was made: the server may have acted on it.
 */
export type Outcome =
  | { kind: 'answered'; answer: Answer }
  | { kind: 'refused'; sentAt: number; error: string }
  | { kind: 'unknown'; sentAt: number; failedAt: number; error: string };

/** One request to a demo instance on this machine (127.0.0.1 only). */
export interface RequestSpec {
  port: number;
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * The client's own loopback address (127.0.0.x): each simulated user connects from its own,
   * so the demo's per-IP login limit counts users apart, as it would behind no proxy.
   */
  localAddress?: string;
  timeoutMs: number;
  /** Gives up on the request when it aborts (its outcome is then `unknown`). */
  signal?: AbortSignal;
}

/**
 * Sends one request on a fresh connection (no keep-alive: a reused socket to an instance that was
 * killed would turn requests the server never saw into `unknown`), and never throws.
 *
 * @example
 * const outcome = await send({ port, method: 'GET', path: '/health', timeoutMs: 2_000 });
 * if (outcome.kind === 'answered' && outcome.answer.status === 200) ...
 */
export function send(spec: RequestSpec): Promise<Outcome> {
  const body = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
  const headers: Record<string, string> = { connection: 'close', ...spec.headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(body.length);
  }
  const sentAt = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const abandon = (): void => {
      req.destroy(new Error('abandoned'));
    };
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      spec.signal?.removeEventListener('abort', abandon);
      resolve(outcome);
    };
    const req = request({
      host: '127.0.0.1', port: spec.port, method: spec.method, path: spec.path, headers, agent: false,
      ...(spec.localAddress === undefined ? {} : { localAddress: spec.localAddress }),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => settle({
        kind: 'answered',
        answer: { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), sentAt, answeredAt: Date.now() },
      }));
      res.on('error', (error) => settle({ kind: 'unknown', sentAt, failedAt: Date.now(), error: error.message }));
      // After 'end' this changes nothing; before it, the body was cut off.
      res.on('close', () => settle({ kind: 'unknown', sentAt, failedAt: Date.now(), error: 'response cut off' }));
    });
    req.on('socket', (socket) => socket.once('connect', () => {
      connected = true;
    }));
    req.setTimeout(spec.timeoutMs, () => req.destroy(new Error(`no answer within ${spec.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected && error.code === 'ECONNREFUSED') settle({ kind: 'refused', sentAt, error: error.code });
      else settle({ kind: 'unknown', sentAt, failedAt: Date.now(), error: error.code ?? error.message });
    });
    if (spec.signal?.aborted) abandon();
    else spec.signal?.addEventListener('abort', abandon, { once: true });
    req.end(body);
  });
}

/** The answer's body as JSON, or undefined when it is not JSON. */
export function jsonOf(answer: Answer): unknown {
  try {
    return JSON.parse(answer.text) as unknown;
  } catch {
    return undefined;
  }
}

/** A header's value (the first, when sent twice). */
export function headerOf(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** What an open server-sent event stream delivered before the soak closed it (or it ended). */
export interface StreamTally {
  /** The status it was answered with, or `refused` / `unknown`. */
  status: number | 'refused' | 'unknown';
  /** `data:` messages received. */
  messages: number;
  /** Whether the server ended it before the soak closed it. */
  endedByServer: boolean;
}

/**
 * Opens a server-sent event stream (`GET` with `Accept: text/event-stream`), counts its messages
 * for `holdMs` (or until `signal` aborts), then closes it, as a browser tab that is closed would.
 *
 * @example
 * const tally = await holdStream({ port, path: '/crews/events/stream', headers, holdMs: 10_000 });
 */
export function holdStream(spec: { port: number; path: string; headers: Record<string, string>; localAddress?: string; holdMs: number; signal?: AbortSignal }): Promise<StreamTally> {
  return new Promise((resolve) => {
    const tally: StreamTally = { status: 'unknown', messages: 0, endedByServer: false };
    let closing = false;
    let connected = false;
    const close = (): void => {
      closing = true;
      req.destroy();
    };
    const timer = setTimeout(close, spec.holdMs);
    const done = (): void => {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', close);
      resolve(tally);
    };
    const req = request({
      host: '127.0.0.1', port: spec.port, method: 'GET', path: spec.path, agent: false, headers: { accept: 'text/event-stream', ...spec.headers },
      ...(spec.localAddress === undefined ? {} : { localAddress: spec.localAddress }),
    }, (res) => {
      tally.status = res.statusCode ?? 0;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        tally.messages += lines.filter((line) => line.startsWith('data:')).length;
      });
      res.on('end', () => {
        tally.endedByServer = !closing;
      });
      res.on('close', done);
      res.on('error', () => undefined);
    });
    req.on('socket', (socket) => socket.once('connect', () => {
      connected = true;
    }));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (tally.status === 'unknown' && !connected && error.code === 'ECONNREFUSED') tally.status = 'refused';
      if (typeof tally.status !== 'number' || !closing) done();
    });
    if (spec.signal?.aborted) close();
    else spec.signal?.addEventListener('abort', close, { once: true });
    req.end();
  });
}
