import net from 'node:net';

/**
 * A TCP proxy in front of the database, so a test can take the database away (every open
 * connection dropped, new ones refused) and bring it back, as an outage would; or stall it
 * silently, as a dead network path does: nothing is answered and nothing is reset.
 */
export interface TcpProxy {
  port: number;
  cut(): void;
  /** From now on nothing passes, and no connection is closed: open ones stay dead even after restore(). */
  stall(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'up' | 'cut' | 'stalled' = 'up';
  const sockets = new Set<net.Socket>();
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    if (mode === 'cut') return client.destroy();
    track(client);
    // Accepted, then silence: the connection attempt itself hangs.
    if (mode === 'stalled') return client.pause();
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream).pipe(client);
    client.on('close', () => { upstream.destroy(); pairs.delete(pair); });
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      mode = 'cut';
      for (const s of sockets) s.destroy();
    },
    stall() {
      mode = 'stalled';
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
    restore() {
      mode = 'up';
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
