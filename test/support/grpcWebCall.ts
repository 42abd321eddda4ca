/**
 * A minimal grpc-web (binary) caller for tests that need raw request bytes:
 * one POST, then the data messages and the trailer frame's status.
 */
export interface WebReply {
  messages: Buffer[];
  status?: number;
  message?: string;
}

export async function grpcWebCall(base: string, path: string, msg: Uint8Array, token?: string, ms = 10_000): Promise<WebReply> {
  const body = Buffer.alloc(5 + msg.length);
  body.writeUInt32BE(msg.length, 1);
  body.set(msg, 5);
  const headers: Record<string, string> = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method: 'POST', headers, body, signal: AbortSignal.timeout(ms) });
  const raw = Buffer.from(await res.arrayBuffer());
  const out: WebReply = { messages: [] };
  for (let pos = 0; pos + 5 <= raw.length; ) {
    const len = raw.readUInt32BE(pos + 1);
    const payload = raw.subarray(pos + 5, pos + 5 + len);
    if (raw[pos]! & 0x80) {
      const lines = payload.toString('latin1').split('\r\n');
      const get = (k: string) =>
        lines
          .find((l) => l.startsWith(k + ':'))
          ?.slice(k.length + 1)
          .trim();
      out.status = Number(get('grpc-status'));
      out.message = decodeURIComponent(get('grpc-message') ?? '');
    } else out.messages.push(Buffer.from(payload));
    pos += 5 + len;
  }
  return out;
}
