/**
 * Raw grpc-web (binary) bytes for tests of the bridge itself: framing, text
 * mode, malformed bodies, backpressure. Everything else talks to grpc-web
 * through the generated client (see webClient.ts).
 */
export interface WebReply {
  messages: Buffer[];
  status?: number;
  message?: string;
}

/** One uncompressed grpc-web data frame. */
export function grpcWebFrame(msg: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

/** Splits a grpc-web body into data messages and the trailer map; `rest` counts the bytes of an incomplete last frame. */
export function parseGrpcWebBody(body: Buffer) {
  const messages: Buffer[] = [];
  let trailers: Record<string, string> | undefined;
  let afterTrailers = 0;
  let pos = 0;
  while (pos + 5 <= body.length) {
    const len = body.readUInt32BE(pos + 1);
    if (pos + 5 + len > body.length) break;
    const payload = body.subarray(pos + 5, pos + 5 + len);
    if (body[pos]! & 0x80) {
      trailers = {};
      for (const line of payload.toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) trailers[line.slice(0, i)] = line.slice(i + 1).trim();
      }
    } else {
      if (trailers) afterTrailers++;
      messages.push(Buffer.from(payload));
    }
    pos += 5 + len;
  }
  return { messages, trailers, afterTrailers, rest: body.length - pos };
}

export async function grpcWebCall(base: string, path: string, msg: Uint8Array, token?: string, ms = 10_000): Promise<WebReply> {
  const headers: Record<string, string> = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method: 'POST', headers, body: grpcWebFrame(msg), signal: AbortSignal.timeout(ms) });
  const { messages, trailers } = parseGrpcWebBody(Buffer.from(await res.arrayBuffer()));
  const out: WebReply = { messages };
  if (trailers) {
    out.status = Number(trailers['grpc-status']);
    out.message = decodeURIComponent(trailers['grpc-message'] ?? '');
  }
  return out;
}
