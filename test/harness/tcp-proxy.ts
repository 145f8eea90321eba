/**
 * A TCP proxy in front of a Redis server, so a fault test can cut a client's connections
 * without touching the server (which other clients keep using), leave them open but dead, or
 * slow them down; all of them, or only some (`ConnectionSelector`: one module instance's
 * command connection, say, while its subscriber keeps working).
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * Which connections a fault applies to, by the name the client gives itself at connect
 * (`CLIENT SETNAME`, or `HELLO ... SETNAME`): the module names its connections
 * `coord:<instanceId>:<role>` (see libs/coordination/src/connection/redis-client.factory.ts).
 * Every field given must match. A connection that names itself otherwise, or not at all,
 * matches only a fault without a selector.
 */
export interface ConnectionSelector {
  /** `command`, `subscriber`, `blocking`, `queue` (a BullMQ worker's connection and its duplicate). */
  role?: string;
  /** The module's `instanceId`. */
  instanceId?: string;
  /** The whole connection name. */
  name?: string;
}

export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /**
   * Reset all current connections (TCP RST, which a client sees as ECONNRESET, not the FIN of
   * a clean close) and refuse new ones: they are accepted and reset at once. The listener stays
   * up so restore() is instant and the port cannot be taken by someone else meanwhile. With a
   * selector, only the matching connections: a new one is reset once its first bytes named it.
   */
  cut(selector?: ConnectionSelector): void;
  /**
   * A half-dead link: packets are dropped, sockets stay open. Current connections stop
   * forwarding in both directions (what arrives is discarded, no FIN, no reset); new ones are
   * accepted and held without ever reaching the server. A client sees no error at all: its
   * commands just never get a reply. After `cut()`, `freeze()` makes the reconnects hang
   * instead of failing. With a selector, only the matching connections. A connection frozen
   * once stays frozen until `restore()` resets it, whatever fault starts later (a `delay()`
   * that matches it too): its byte stream lost data, so it can never carry a reply again.
   */
  freeze(selector?: ConnectionSelector): void;
  /**
   * A slow link: every chunk, in either direction, of the current and new connections (the
   * matching ones, with a selector) is forwarded `ms` after it arrived, in order. Nothing is
   * lost; a client whose command timeout is shorter than the round trip sees its commands time
   * out. `restore()` ends it: chunks already on their way still arrive first. Connections
   * frozen before stay frozen (see `freeze()`).
   */
  delay(ms: number, selector?: ConnectionSelector): void;
  /**
   * End every fault: new connections go through again (after `cut()` or `freeze()`), delays
   * stop. Connections frozen meanwhile are destroyed (their byte streams lost data, as a link
   * that comes back after dropping packets resets them), so their clients reconnect.
   */
  restore(): void;
  /** Names of the connections open now, `undefined` for one not named (yet): to wait until a client is through. */
  connections(): Array<string | undefined>;
  close(): Promise<void>;
}

type Fault = { kind: 'cut' } | { kind: 'freeze' } | { kind: 'delay'; ms: number };
type Mode = Fault | { kind: 'pass' } | { kind: 'hold' };
const PASS: Mode = { kind: 'pass' };
/** A connection a fault may apply to but whose name is not known yet: its bytes wait. */
const HOLD: Mode = { kind: 'hold' };

/**
 * How long a new connection's first bytes wait for a name while a fault with a selector is in
 * force. ioredis sends its whole handshake (HELLO, SELECT, CLIENT SETNAME, CLIENT SETINFO) in
 * one go before waiting for a reply, so a named client is named at once; a client that gives
 * no name is let through (as unnamed) after this long.
 */
const NAME_WAIT_MS = 50;

/** A client that sent this much without a name and without a real command gives none. */
const MAX_SNIFF_BYTES = 64 * 1024;

/** Commands a client sends before its first real one (ioredis's connect handshake). */
const HANDSHAKE = new Set(['hello', 'auth', 'select', 'client', 'readonly']);

interface Pair {
  readonly client: Socket;
  upstream?: Socket;
  /** undefined: not known yet; null: the client gave no name. */
  name?: string | null;
  sniffed: Buffer;
  /** Client bytes waiting for the name (while a selector fault could apply). */
  held: Buffer[];
  nameTimer?: NodeJS.Timeout;
  /**
   * Frozen (by freeze(), or a chunk of it dropped under one): its byte stream may have lost
   * data, so it forwards nothing any more, in either direction, whatever fault comes later;
   * destroyed at restore(). A frozen pair stays up when one side closes.
   */
  frozen: boolean;
  closed: boolean;
  readonly toServer: DelayLine;
  readonly toClient: DelayLine;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  /** Faults in force, latest last: the latest one that matches a connection applies to it. */
  let faults: Array<{ fault: Fault; selector?: ConnectionSelector }> = [];

  const modeOf = (pair: Pair): Mode => {
    for (let i = faults.length - 1; i >= 0; i -= 1) {
      const { fault, selector } = faults[i];
      if (!selector) return fault;
      if (pair.name === undefined) return HOLD;
      if (matches(pair.name, selector)) return fault;
    }
    return PASS;
  };

  const destroy = (pair: Pair, reset = false): void => {
    if (pair.closed) return;
    pair.closed = true;
    clearTimeout(pair.nameTimer);
    pair.toServer.clear();
    pair.toClient.clear();
    if (reset) pair.client.resetAndDestroy();
    else pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  };

  /** Puts `pair` under the fault in force for it now (after a fault started, or once it is named). */
  const apply = (pair: Pair): void => {
    const mode = modeOf(pair);
    if (mode.kind === 'cut') return destroy(pair, true);
    if (mode.kind === 'freeze') pair.frozen = true;
    if (mode.kind === 'hold') return;
    for (const chunk of pair.held.splice(0)) forward(pair, 'toServer', chunk);
  };

  const upstreamOf = (pair: Pair): Socket => {
    if (pair.upstream) return pair.upstream;
    const upstream = createConnection(target.port, target.host);
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => destroy(pair));
    upstream.on('data', (chunk) => forward(pair, 'toClient', chunk));
    // Either side going away takes the pair down, like a real broken connection; a frozen
    // pair stays up until restore() (nothing crosses a dead link).
    upstream.once('close', () => {
      if (!pair.frozen) destroy(pair);
    });
    return upstream;
  };

  const forward = (pair: Pair, direction: 'toServer' | 'toClient', chunk: Buffer): void => {
    if (pair.closed || pair.frozen) return; // a frozen link lost bytes: nothing after them may cross
    const mode = modeOf(pair);
    if (mode.kind === 'hold' && direction === 'toServer') {
      pair.held.push(chunk);
      if (!pair.nameTimer) {
        pair.nameTimer = setTimeout(() => nameKnown(pair, null), NAME_WAIT_MS);
        pair.nameTimer.unref();
      }
      return;
    }
    if (mode.kind === 'freeze' || mode.kind === 'cut') {
      pair.frozen = true; // read and drop
      return;
    }
    const line = pair[direction];
    const write = direction === 'toServer' ? (data: Buffer) => upstreamOf(pair).write(data) : (data: Buffer) => pair.client.write(data);
    line.push(chunk, mode.kind === 'delay' ? mode.ms : 0, (data) => {
      // A freeze that started while the chunk was on its way drops it.
      if (pair.closed || pair.frozen) return;
      const now = modeOf(pair).kind;
      if (now === 'freeze' || now === 'cut') pair.frozen = true;
      else write(data);
    });
  };

  const onClientData = (pair: Pair, chunk: Buffer): void => {
    if (pair.name === undefined) {
      pair.sniffed = Buffer.concat([pair.sniffed, chunk]);
      const name = pair.sniffed.length > MAX_SNIFF_BYTES ? null : connectionName(pair.sniffed);
      if (name !== undefined) nameKnown(pair, name);
    }
    forward(pair, 'toServer', chunk);
  };

  const nameKnown = (pair: Pair, name: string | null): void => {
    if (pair.name !== undefined) return;
    pair.name = name;
    pair.sniffed = Buffer.alloc(0);
    clearTimeout(pair.nameTimer);
    apply(pair);
  };

  const server = createServer((client) => {
    client.on('error', () => {});
    client.setNoDelay(true);
    const pair: Pair = {
      client, sniffed: Buffer.alloc(0), held: [], frozen: false, closed: false, toServer: new DelayLine(), toClient: new DelayLine(),
    };
    const mode = modeOf(pair);
    if (mode.kind === 'cut') {
      client.resetAndDestroy();
      return;
    }
    pairs.add(pair);
    client.on('data', (chunk) => onClientData(pair, chunk));
    client.once('close', () => {
      if (!pair.frozen) destroy(pair);
    });
    if (mode.kind === 'freeze') pair.frozen = true;
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  const start = (fault: Fault, selector?: ConnectionSelector): void => {
    faults = selector ? [...faults, { fault, selector }] : [{ fault }];
    for (const pair of [...pairs]) {
      if (selector && (pair.name === undefined || !matches(pair.name, selector))) continue;
      if (fault.kind === 'cut') destroy(pair, true);
      else if (fault.kind === 'freeze') pair.frozen = true;
    }
  };

  return {
    port: (server.address() as AddressInfo).port,
    cut: (selector) => start({ kind: 'cut' }, selector),
    freeze: (selector) => start({ kind: 'freeze' }, selector),
    delay(ms, selector) {
      if (!(ms > 0)) throw new Error(`delay(ms): ms must be positive (got ${ms})`);
      start({ kind: 'delay', ms }, selector);
    },
    restore() {
      faults = [];
      for (const pair of [...pairs]) {
        if (pair.frozen) destroy(pair, true);
        else apply(pair);
      }
    },
    connections: () => [...pairs].filter((pair) => !pair.client.destroyed).map((pair) => pair.name ?? undefined),
    close() {
      faults = [{ fault: { kind: 'cut' } }];
      for (const pair of [...pairs]) destroy(pair);
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function matches(name: string | null, selector: ConnectionSelector): boolean {
  if (name === null) return false;
  if (selector.name !== undefined && selector.name !== name) return false;
  if (selector.role === undefined && selector.instanceId === undefined) return true;
  // coord:<instanceId>:<role>; an instance id may itself contain ':'.
  if (!name.startsWith('coord:')) return false;
  const at = name.lastIndexOf(':');
  if (at <= 'coord:'.length - 1) return false;
  if (selector.role !== undefined && name.slice(at + 1) !== selector.role) return false;
  return selector.instanceId === undefined || name.slice('coord:'.length, at) === selector.instanceId;
}

/**
 * The name a client gives itself in the first bytes it sent (RESP arrays): a string once
 * `CLIENT SETNAME` (or `HELLO ... SETNAME`) is among them, null once a command that is not
 * part of the handshake comes first (or the bytes are not RESP arrays), undefined while the
 * bytes so far say neither.
 */
export function connectionName(bytes: Buffer): string | null | undefined {
  let offset = 0;
  for (;;) {
    if (offset >= bytes.length) return undefined;
    const parsed = parseCommand(bytes, offset);
    if (parsed === null) return null;
    if (parsed === undefined) return undefined;
    offset = parsed.next;
    const [command = '', ...args] = parsed.args.map((arg) => arg.toString('utf8'));
    const verb = command.toLowerCase();
    if (!HANDSHAKE.has(verb)) return null;
    if (verb === 'client' && args[0]?.toLowerCase() === 'setname' && args[1] !== undefined) return args[1];
    if (verb === 'hello') {
      const at = args.findIndex((arg) => arg.toLowerCase() === 'setname');
      if (at !== -1 && args[at + 1] !== undefined) return args[at + 1];
    }
  }
}

/** One RESP array of bulk strings at `offset`: undefined when incomplete, null when not one. */
function parseCommand(bytes: Buffer, offset: number): { args: Buffer[]; next: number } | null | undefined {
  const header = line(bytes, offset, '*');
  if (header === null || header === undefined) return header;
  const args: Buffer[] = [];
  let at = header.next;
  for (let i = 0; i < header.value; i += 1) {
    const bulk = line(bytes, at, '$');
    if (bulk === null || bulk === undefined) return bulk;
    const end = bulk.next + bulk.value;
    if (bytes.length < end + 2) return undefined;
    args.push(bytes.subarray(bulk.next, end));
    at = end + 2;
  }
  return { args, next: at };
}

/** `<type><integer>\r\n` at `offset`. */
function line(bytes: Buffer, offset: number, type: string): { value: number; next: number } | null | undefined {
  if (offset >= bytes.length) return undefined;
  if (String.fromCharCode(bytes[offset]) !== type) return null;
  const end = bytes.indexOf('\r\n', offset);
  if (end === -1) return bytes.length - offset > 20 ? null : undefined;
  const value = Number(bytes.subarray(offset + 1, end).toString('latin1'));
  if (!Number.isInteger(value) || value < 0) return null;
  return { value, next: end + 2 };
}

/**
 * One direction of a connection: chunks leave in the order they came, each no earlier than
 * the delay it was given when it came. One timer for the head of the line.
 */
class DelayLine {
  private readonly queue: Array<{ due: number; chunk: Buffer; deliver: (chunk: Buffer) => void }> = [];
  private timer?: NodeJS.Timeout;

  push(chunk: Buffer, delayMs: number, deliver: (chunk: Buffer) => void): void {
    if (delayMs <= 0 && this.queue.length === 0) return deliver(chunk);
    this.queue.push({ due: Date.now() + delayMs, chunk, deliver });
    if (!this.timer) this.arm();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      while (this.queue.length > 0 && this.queue[0].due <= now) {
        const { chunk, deliver } = this.queue.shift()!;
        deliver(chunk);
      }
      this.arm();
    }, Math.max(0, head.due - Date.now()));
  }
}
