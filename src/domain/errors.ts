/**
 * The failures a use case can report. Each kind maps one-to-one onto a
 * canonical gRPC status code in the transport layer; the message is shown to
 * the client as is, so it must name the problem without leaking internals.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'unavailable'
  | 'aborted'
  | 'deadline_exceeded';

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** For resource_exhausted: when the client may retry. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (msg: string) => new DomainError('invalid_argument', msg);
export const notFound = (msg: string) => new DomainError('not_found', msg);
export const denied = (msg: string) => new DomainError('permission_denied', msg);
export const precondition = (msg: string) => new DomainError('failed_precondition', msg);
export const unauthenticated = (msg: string) => new DomainError('unauthenticated', msg);
export const unavailable = (msg: string) => new DomainError('unavailable', msg);
export const deadline = (msg: string) => new DomainError('deadline_exceeded', msg);
export const exhausted = (msg: string, retryAfterMs?: number) => new DomainError('resource_exhausted', msg, retryAfterMs);
