import { status, type ServiceError } from '@grpc/grpc-js';

/** True for errors that came back from a gRPC call (they carry a numeric status code). */
export function isServiceError(e: unknown): e is ServiceError {
  return typeof e === 'object' && e !== null && typeof (e as ServiceError).code === 'number' && 'details' in e;
}

/** The canonical name of a gRPC status code, e.g. 5 -> "NOT_FOUND". */
export function codeName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

/** One line describing any failure: `<grpc details> (<CODE name>)` for gRPC errors. */
export function describeError(e: unknown): string {
  if (isServiceError(e)) return `${e.details || e.message} (${codeName(e.code)})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Stream endings after which a session reconnects and resumes: the node went
 * away or drained (OK, UNAVAILABLE, CANCELLED by the server), the stream was
 * cut for reading slowly (RESOURCE_EXHAUSTED) or timed out. Anything else
 * (PERMISSION_DENIED, INVALID_ARGUMENT, UNAUTHENTICATED without a way to
 * refresh...) would fail again the same way.
 */
export function isRetryableEnd(code: number): boolean {
  return (
    code === status.OK ||
    code === status.UNAVAILABLE ||
    code === status.CANCELLED ||
    code === status.DEADLINE_EXCEEDED ||
    code === status.RESOURCE_EXHAUSTED ||
    code === status.ABORTED ||
    code === status.INTERNAL ||
    code === status.UNKNOWN
  );
}

/** A ServiceError-shaped error made on the client side (e.g. "gave up reconnecting"). */
export function clientError(code: number, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${codeName(code)}: ${details}`), { code, details, metadata: undefined as never });
}
