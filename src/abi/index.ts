/**
 * The FUSE wire protocol as pure data: request decoding, reply and
 * notification encoding, and the protocol's numbers. No I/O happens here.
 */

export * from './types.js';
export * from './constants.js';
export * from './decode.js';
export * from './encode.js';
