import http2 from 'node:http2';
import { ClientFrame, ServerFrame } from '../../src/gen/chat/v1/chat.js';

/**
 * A Connect stream over a bare HTTP/2 client that can stop reading at the
 * network level (grpc-js clients keep reading into their own buffer, so they
 * cannot play a slow consumer). Frames are decoded from the gRPC framing.
 */
export class RawConnect {
  private readonly session: http2.ClientHttp2Session;
  private readonly req: http2.ClientHttp2Stream;
  private buf = Buffer.alloc(0);
  readonly frames: ServerFrame[] = [];

  constructor(address: string, token: string) {
    this.session = http2.connect(`http://${address}`);
    this.req = this.session.request({
      ':method': 'POST',
      ':path': '/chat.v1.ChatService/Connect',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${token}`,
    });
    this.req.on('data', (chunk: Buffer) => this.onData(chunk));
    this.req.on('error', () => {});
  }

  send(frame: ClientFrame) {
    const body = Buffer.from(ClientFrame.encode(frame).finish());
    const hdr = Buffer.alloc(5);
    hdr.writeUInt32BE(body.length, 1);
    this.req.write(Buffer.concat([hdr, body]));
  }

  pause() {
    this.req.pause();
  }

  resume() {
    this.req.resume();
  }

  close() {
    this.req.close();
    this.session.close();
  }

  private onData(chunk: Buffer) {
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) break;
      this.frames.push(ServerFrame.decode(this.buf.subarray(5, 5 + len)));
      this.buf = this.buf.subarray(5 + len);
    }
  }
}
