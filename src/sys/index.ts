/**
 * fusekit's native boundary: thin, policy-free wrappers over the Linux system
 * calls Node does not expose. See libc.ts for conventions, arch.ts for what
 * differs between the supported architectures.
 */

import './arch.js'; // first: an unsupported machine is refused before anything native loads
export { SysError, errnoName, throwErrno } from './errors.js';
export * from './constants.js';
export * from './libc.js';
export * from './socket.js';
export * from './async.js';
export * from './watch.js';
