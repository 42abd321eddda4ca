import net from 'node:net';

/**
 * A loopback TCP proxy that can cut a backend off completely: `cut()` drops
 * every open connection and refuses new ones (connection refused, as when
 * the server process is down); `restore()` listens again on the same port.
 */
export class CutProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(port = 0): Promise<number> {
    const server = net.createServer((client) => {
      const up = net.connect(this.target.port, this.target.host);
      this.sockets.add(client).add(up);
      client.pipe(up).pipe(client);
      const close = () => {
        client.destroy();
        up.destroy();
        this.sockets.delete(client);
        this.sockets.delete(up);
      };
      client.on('error', close).on('close', close);
      up.on('error', close).on('close', close);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  async cut() {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  async restore() {
    await this.listen(this.port);
  }

  async close() {
    await this.cut();
  }
}
