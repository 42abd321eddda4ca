import type { Logger } from '../core/logger.js';

let rejections = 0;
let installed = false;

/**
 * Makes the class of bug "a promise rejected and nobody handled it" visible
 * without letting it stop the node. Node's default for an unhandled rejection
 * is to exit the process, which would let any client whose request takes an
 * unforeseen error path take the node down for everyone. Instead each one is
 * logged at error level with its stack and counted (exported as
 * `chat_unhandled_rejections_total`; tests assert it stays 0), and the node
 * keeps serving. Installed once per process, by the first node started in it.
 */
export function installProcessGuard(log: Logger) {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    rejections++;
    const err = reason instanceof Error ? { name: reason.name, message: reason.message, stack: reason.stack } : { value: String(reason) };
    log.error({ err }, 'unhandled promise rejection: a bug, reported and survived');
  });
}

/** Unhandled rejections seen by this process since it started. */
export const unhandledRejections = () => rejections;
