import net from 'node:net';

/**
 * A loopback TCP proxy that can stop forwarding server-to-client bytes, so a
 * real grpc-js client behaves like a device on a stalled network: the
 * server's writes back up through the socket and HTTP/2 flow control.
 */
export class PausableProxy {
  private readonly server: net.Server;
  private readonly upstreams = new Set<net.Socket>();
  private paused = false;
  port = 0;

  constructor(readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const up = net.connect(target.port, target.host);
      this.upstreams.add(up);
      client.pipe(up);
      up.on('data', (d: Buffer) => {
        if (!client.write(d)) up.pause();
      });
      client.on('drain', () => {
        if (!this.paused) up.resume();
      });
      if (this.paused) up.pause();
      const close = () => {
        client.destroy();
        up.destroy();
        this.upstreams.delete(up);
      };
      client.on('error', close).on('close', close);
      up.on('error', close).on('close', close);
    });
  }

  async listen() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return `127.0.0.1:${this.port}`;
  }

  pause() {
    this.paused = true;
    for (const u of this.upstreams) u.pause();
  }

  resume() {
    this.paused = false;
    for (const u of this.upstreams) u.resume();
  }

  close() {
    for (const u of this.upstreams) u.destroy();
    this.server.close();
  }
}
