// A small grpc-web client over fetch (binary mode, application/grpc-web+proto).
// Unary calls and server streams only: browsers cannot stream requests.
// Every failure is a GrpcError carrying a canonical gRPC status code.

export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

export class GrpcError extends Error {
  constructor(code, message, trailers = {}) {
    super(message || `gRPC status ${code}`);
    this.name = 'GrpcError';
    this.code = code;
    this.trailers = trailers;
  }
}

/** HTTP statuses a proxy may answer with before any gRPC status exists (grpc's http-grpc-status-mapping). */
function fromHttp(status) {
  const map = {
    400: Code.INTERNAL,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.UNIMPLEMENTED,
    429: Code.UNAVAILABLE,
    502: Code.UNAVAILABLE,
    503: Code.UNAVAILABLE,
    504: Code.UNAVAILABLE,
  };
  return new GrpcError(map[status] ?? Code.UNKNOWN, `HTTP ${status} from the grpc-web endpoint`);
}

function frame(bytes) {
  const out = new Uint8Array(5 + bytes.length);
  new DataView(out.buffer).setUint32(1, bytes.length);
  out.set(bytes, 5);
  return out;
}

function parseTrailers(bytes) {
  const trailers = {};
  for (const line of new TextDecoder().decode(bytes).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return trailers;
}

function statusError(trailers) {
  const code = Number(trailers['grpc-status'] ?? Code.UNKNOWN);
  if (code === Code.OK) return undefined;
  let message = trailers['grpc-message'] ?? '';
  try {
    message = decodeURIComponent(message);
  } catch {}
  return new GrpcError(code, message, trailers);
}

/** Yields each data message of a grpc-web response body, then checks the trailer frame. */
async function* messages(res) {
  if (res.status !== 200) throw fromHttp(res.status);
  if (res.headers.has('grpc-status')) {
    // Trailers-only response (status in the HTTP headers).
    const err = statusError({ 'grpc-status': res.headers.get('grpc-status'), 'grpc-message': res.headers.get('grpc-message') ?? '' });
    if (err) throw err;
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(0);
  let trailers;
  try {
    for (;;) {
      while (buf.length >= 5) {
        const len = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
        if (buf.length < 5 + len) break;
        const flag = buf[0];
        const payload = buf.slice(5, 5 + len);
        buf = buf.slice(5 + len);
        if (flag & 0x80) trailers = parseTrailers(payload);
        else if (trailers) throw new GrpcError(Code.INTERNAL, 'data after the trailer frame');
        else yield payload;
      }
      const { done, value } = await reader.read();
      if (done) break;
      const next = new Uint8Array(buf.length + value.length);
      next.set(buf);
      next.set(value, buf.length);
      buf = next;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (!trailers) {
    if (res.headers.has('grpc-status')) return;
    throw new GrpcError(Code.UNAVAILABLE, 'the response ended without a gRPC status');
  }
  const err = statusError(trailers);
  if (err) throw err;
}

/** Starts one call; `signal` aborts it (the server then cancels the upstream call). */
async function open(base, path, bytes, { token, signal, timeoutMs }) {
  const headers = {
    'content-type': 'application/grpc-web+proto',
    accept: 'application/grpc-web+proto',
    'x-grpc-web': '1',
    'x-user-agent': 'grpc-chat-web/0.1',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  if (timeoutMs) headers['grpc-timeout'] = `${Math.ceil(timeoutMs)}m`;
  try {
    return await fetch(base + path, { method: 'POST', headers, body: frame(bytes), signal, cache: 'no-store' });
  } catch (e) {
    if (signal?.aborted) throw new GrpcError(Code.CANCELLED, 'cancelled');
    throw new GrpcError(Code.UNAVAILABLE, `cannot reach the server: ${e.message}`);
  }
}

/** Unary call: resolves with the response bytes. */
export async function unary(base, path, bytes, opts = {}) {
  const res = await open(base, path, bytes, { timeoutMs: 15_000, ...opts });
  let out;
  for await (const m of wrap(messages(res), opts.signal)) out = m;
  if (!out) throw new GrpcError(Code.INTERNAL, `${path}: no response message`);
  return out;
}

/** Server stream: calls onMessage(bytes) per message, resolves when the server ends the stream with OK. */
export async function serverStream(base, path, bytes, onMessage, opts = {}) {
  const res = await open(base, path, bytes, opts);
  for await (const m of wrap(messages(res), opts.signal)) onMessage(m);
}

/** Turns a network failure mid-body into UNAVAILABLE (or CANCELLED when we aborted). */
async function* wrap(it, signal) {
  try {
    yield* it;
  } catch (e) {
    if (e instanceof GrpcError) throw e;
    if (signal?.aborted) throw new GrpcError(Code.CANCELLED, 'cancelled');
    throw new GrpcError(Code.UNAVAILABLE, `connection lost: ${e.message}`);
  }
}
