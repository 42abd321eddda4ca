/**
 * The TypeScript client SDK: `ChatClient` (typed unary calls for every RPC,
 * login with token refresh, PickServer) and `ChatSession` (a Connect stream
 * as an async iterable that resumes and resends across drops and drains).
 */
export { ChatClient, type ChatClientOptions } from './ChatClient.js';
export { ChatSession, type Frame, type SessionEvent, type SessionOptions } from './ChatSession.js';
export { CursorBook } from './cursors.js';
export { clientError, codeName, describeError, isRetryableEnd, isServiceError } from './errors.js';
export type { Tokens } from './Tokens.js';
export type { CallOpts, MethodDef, UnaryCalls } from './unary.js';
