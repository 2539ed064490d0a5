/**
 * Where fusekit reports what an operator should see. A library must not write
 * to the process's stderr behind its user's back, so every message goes
 * through a `Logger` the user may pass; the default writes one line per
 * message to stderr.
 */

/** Receives fusekit's messages, each one line without a trailing newline. */
export interface Logger {
  /**
   * Something failed or was refused and the server carried on: a handler
   * that threw (once per distinct cause), passthrough switched off and why, a
   * request past its deadline.
   */
  warn(message: string): void;
  /** One line per request and per reply. Called only when present; leave it out in production. */
  debug?(message: string): void;
}

/** The default logger: warnings to stderr, no debug lines. */
export const stderrLogger: Logger = {
  warn(message: string): void {
    process.stderr.write(`${message}\n`);
  },
};
