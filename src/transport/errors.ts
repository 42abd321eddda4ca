import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { DomainError, type ErrorKind } from '../domain/errors.js';
import type { Logger } from '../core/logger.js';

const CODES: Record<ErrorKind, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  failed_precondition: status.FAILED_PRECONDITION,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  aborted: status.ABORTED,
  deadline_exceeded: status.DEADLINE_EXCEEDED,
};

/** Maps any failure to a gRPC status. Unknown errors become INTERNAL with a generic message (and are logged). */
export function toStatus(e: unknown, log?: Logger): Partial<ServiceError> & { code: status; details: string } {
  if (e instanceof DomainError) {
    const metadata = new Metadata();
    if (e.retryAfterMs !== undefined) metadata.set('retry-after-ms', String(e.retryAfterMs));
    return { code: CODES[e.kind], details: e.message, metadata };
  }
  log?.error({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) }, 'unexpected error');
  return { code: status.INTERNAL, details: 'internal error' };
}

export const codeOf = (e: unknown) => (e instanceof DomainError ? CODES[e.kind] : status.INTERNAL);
