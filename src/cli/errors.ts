export { codeName, describeError, isServiceError } from '../client/errors.js';

/** An error meant for the user: printed as `error: <message>` without a stack trace. */
export class CliError extends Error {}
