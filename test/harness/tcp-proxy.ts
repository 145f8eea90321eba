/**
 * A TCP proxy in front of a Redis server, so a fault test can cut a client's connections
 * without touching the server (which other clients keep using).
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
  /** Let new connections through again. */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let isCut = false;

  const destroyAll = (): void => {
    for (const socket of open) socket.destroy();
    open.clear();
  };

  const server = createServer((client) => {
    if (isCut) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(target.port, target.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const [socket, peer] of [[client, upstream], [upstream, client]] as const) {
      open.add(socket);
      socket.pipe(peer);
      // Either side going away takes the pair down, like a real broken connection.
      socket.once('close', () => {
        open.delete(socket);
        peer.destroy();
      });
      socket.on('error', () => peer.destroy());
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      isCut = true;
      destroyAll();
    },
    restore() {
      isCut = false;
    },
    close() {
      isCut = true;
      destroyAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
