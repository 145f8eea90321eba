/**
 * A TCP proxy in front of a Redis server, so a fault test can cut a client's connections
 * without touching the server (which other clients keep using), or leave them open but dead.
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /**
   * Destroy all current connections and refuse new ones: they are accepted and reset at
   * once, which a client sees as ECONNRESET. The listener stays up so restore() is instant
   * and the port cannot be taken by someone else meanwhile.
   */
  cut(): void;
  /**
   * A half-dead link: packets are dropped, sockets stay open. Current connections stop
   * forwarding in both directions (what arrives is discarded, no FIN, no reset); new ones are
   * accepted and held without ever reaching the server. A client sees no error at all: its
   * commands just never get a reply. After `cut()`, `freeze()` makes the reconnects hang
   * instead of failing.
   */
  freeze(): void;
  /**
   * Let new connections through again (after `cut()` or `freeze()`). Connections frozen
   * meanwhile are destroyed (their byte streams lost data, as a link that comes back after
   * dropping packets resets them), so their clients reconnect.
   */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  /** Sockets that lost data to a freeze: destroyed at restore(). */
  const frozen = new Set<Socket>();
  let mode: 'pass' | 'cut' | 'frozen' = 'pass';

  const destroy = (sockets: Set<Socket>): void => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      open.delete(socket);
      frozen.delete(socket);
    });
  };

  const server = createServer((client) => {
    if (mode === 'cut') {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    track(client);
    if (mode === 'frozen') {
      frozen.add(client);
      client.on('data', () => {}); // read and drop
      return;
    }
    const upstream = createConnection(target.port, target.host);
    track(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const [socket, peer] of [[client, upstream], [upstream, client]] as const) {
      // Forwarded by hand (not pipe) so that freeze() can drop what arrives.
      socket.on('data', (chunk) => {
        if (!frozen.has(socket)) peer.write(chunk);
      });
      // Either side going away takes the pair down, like a real broken connection; a frozen
      // pair stays up (nothing crosses a dead link).
      socket.once('close', () => {
        if (!frozen.has(peer)) peer.destroy();
      });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      mode = 'cut';
      destroy(open);
    },
    freeze() {
      mode = 'frozen';
      for (const socket of open) frozen.add(socket);
    },
    restore() {
      mode = 'pass';
      destroy(frozen);
    },
    close() {
      mode = 'cut';
      destroy(open);
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
