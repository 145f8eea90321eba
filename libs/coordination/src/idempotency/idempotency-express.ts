import { headerText } from './idempotency-http.js';
import type { StoredHttpResponse } from './idempotency.types.js';

/** The parts of an express (Node `ServerResponse`) response the capture and the replay use. */
export interface ExpressResponseLike {
  statusCode: number;
  /** Node: the response (its socket) is destroyed / closed. */
  destroyed?: boolean;
  closed?: boolean;
  getHeader(name: string): unknown;
  setHeader(name: string, value: string): unknown;
  send(...args: unknown[]): unknown;
  write(...args: unknown[]): unknown;
  end(...args: unknown[]): unknown;
  once(event: 'close' | 'finish', listener: () => void): unknown;
  redirect?(...args: unknown[]): unknown;
  render?(...args: unknown[]): unknown;
}

/** What went out (or did not) on a captured response. */
export type SentResponse =
  /** One complete body, written by a single `end()` (express's `send` / `json` / `end`): status and headers final. */
  | { kind: 'sent'; status: number; headers: Record<string, string>; body: Buffer }
  /** Written in pieces (`write()`: a stream, a StreamableFile, a web Response, an async iterable), and over (finished or closed). */
  | { kind: 'streamed' }
  /** The response closed with nothing sent (the client went away, or nothing ever answered), and the handler settled. */
  | { kind: 'closed' };

/** A capture in progress (see captureSent). */
export interface SentCapture {
  /**
   * Reports that the handler's Observable settled: a response already over (closed unsent, or a
   * streamed body that ended) is decided now; else the decision waits for what is sent.
   */
  handlerSettled(): void;
}

/**
 * Whether `response` is an express response the capture can wrap (Node's `ServerResponse` with
 * express's `send`): on other platforms the interceptor stores the handler's value instead.
 *
 * @example
 * if (isExpressResponse(response)) captureSent(response, headers, decide);
 */
export function isExpressResponse(response: unknown): response is ExpressResponseLike {
  const r = response as Partial<ExpressResponseLike> | undefined;
  return (
    typeof r === 'object' && r !== null && typeof r.send === 'function' && typeof r.end === 'function' && typeof r.write === 'function' &&
    typeof r.getHeader === 'function' && typeof r.setHeader === 'function' && typeof r.once === 'function' && typeof r.statusCode === 'number'
  );
}

/**
 * Captures what THIS response object sends: its `end()` (which express's `send`, `json`,
 * `redirect`, Nest's replies and exception filters all end in) is wrapped, so the status, the
 * `replayHeaders` and the body are read exactly as they go out, after every interceptor and
 * exception filter. The real `end()` waits until `decide(sent)` settles (the outcome stored
 * before the client sees it, so a retry right after the answer finds it).
 *
 * The key stays held as long as the handler runs: a body written in pieces (`write()` first) is
 * decided 'streamed' once it is over (finished or closed) AND the handler settled; a response
 * that closes with nothing sent (the client went away; also one already closed when the capture
 * starts) is decided 'closed' once the handler settled (`handlerSettled()`). `decide` is called
 * exactly once.
 *
 * @example
 * const capture = captureSent(res, ['content-type', 'location'], async (sent) => {
 *   if (sent.kind === 'sent' && sent.status < 500) await claim.complete(toStored(sent));
 *   else await claim.abandon();
 * });
 * try { return await lastValueFrom(next.handle()); } finally { capture.handlerSettled(); }
 */
export function captureSent(response: ExpressResponseLike, replayHeaders: readonly string[], decide: (sent: SentResponse) => Promise<void>): SentCapture {
  const { end, write } = response;
  let decided = false;
  let handlerDone = false;
  /** The response is over without one whole `end()`: decided once the handler settled too. */
  let over: 'streamed' | 'closed' | undefined = response.destroyed === true || response.closed === true ? 'closed' : undefined;
  let streaming = false;
  const unwrap = () => {
    response.end = end;
    response.write = write;
  };
  const once = (sent: () => SentResponse): Promise<void> => {
    if (decided) return Promise.resolve();
    decided = true;
    unwrap();
    let outcome: SentResponse;
    try {
      outcome = sent();
    } catch {
      outcome = { kind: 'streamed' };
    }
    return decide(outcome).catch(() => undefined);
  };
  const decideIfOver = () => {
    const kind = over;
    if (kind && handlerDone) void once(() => ({ kind }));
  };
  const responseOver = () => {
    over ??= streaming ? 'streamed' : 'closed';
    decideIfOver();
  };
  response.write = function captureWrite(this: ExpressResponseLike, ...args: unknown[]) {
    if (!decided && !streaming) {
      // A body in pieces: never stored, but the key stays held until it is over.
      streaming = true;
      unwrap();
    }
    return write.apply(this, args);
  };
  response.end = function captureEnd(this: ExpressResponseLike, ...args: unknown[]) {
    if (decided || streaming || over) return end.apply(this, args);
    void once(() => ({ kind: 'sent', status: this.statusCode, headers: headersOf(this, replayHeaders), body: bodyOfEnd(args) })).finally(() =>
      end.apply(this, args),
    );
    return this;
  };
  response.once('finish', responseOver);
  response.once('close', responseOver);
  return {
    handlerSettled() {
      handlerDone = true;
      // Closed meanwhile (the 'close' event may not have been emitted yet: the socket is gone).
      if (!over && !decided && (response.destroyed === true || response.closed === true)) over = streaming ? 'streamed' : 'closed';
      decideIfOver();
    },
  };
}

/**
 * The stored form of a body sent in one piece: 'empty' (no bytes), 'json' (a JSON content type
 * and a body that parses), else 'text'; undefined when the bytes are not UTF-8 text (they could
 * not be stored as a string and replayed identical).
 *
 * @example
 * storedOf({ kind: 'sent', status: 201, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"id":1}') });
 * // { status: 201, headers: {...}, kind: 'json', body: '{"id":1}' }
 */
export function storedOf(sent: Extract<SentResponse, { kind: 'sent' }>): StoredHttpResponse | undefined {
  const text = sent.body.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(sent.body)) return undefined;
  if (text.length === 0) return { status: sent.status, headers: sent.headers, kind: 'empty', body: '' };
  return { status: sent.status, headers: sent.headers, kind: isJsonText(sent.headers['content-type'], text) ? 'json' : 'text', body: text };
}

/**
 * Prepares `response` to replay `stored` through express: the status and stored headers are
 * set, and its next `send()` (Nest's reply of whatever the interceptor chain returns, or the
 * interceptor's own for a route answering through `@Res()`) sends the stored bytes with the
 * stored status instead: byte-identical whatever the outer interceptors do to the value.
 *
 * @example
 * replayOnExpress(res, stored);
 * return replayValue(stored); // Nest sends it: the stored bytes go out
 */
export function replayOnExpress(response: ExpressResponseLike, stored: StoredHttpResponse): void {
  const { send, redirect, render } = response;
  response.statusCode = stored.status;
  for (const [name, value] of Object.entries(stored.headers)) response.setHeader(name, value);
  // Whatever Nest answers with (a value, @Redirect()'s redirect with the route's static URL, @Render()'s template), the stored bytes go out.
  const replaySend = function replaySend(this: ExpressResponseLike) {
    response.send = send;
    if (redirect) response.redirect = redirect;
    if (render) response.render = render;
    this.statusCode = stored.status;
    for (const [name, value] of Object.entries(stored.headers)) this.setHeader(name, value);
    return stored.kind === 'empty' ? send.call(this) : send.call(this, Buffer.from(stored.body, 'utf8'));
  };
  response.send = replaySend;
  if (redirect) response.redirect = replaySend;
  if (render) response.render = replaySend;
}

function headersOf(response: ExpressResponseLike, names: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = headerText(response.getHeader(name));
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

/** The body of an `end(chunk?, encoding?, callback?)` call as bytes. */
function bodyOfEnd(args: readonly unknown[]): Buffer {
  const [chunk, encoding] = args;
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.alloc(0);
}

function isJsonText(contentType: string | undefined, text: string): boolean {
  if (!contentType || !/[/+]json\b/i.test(contentType)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
