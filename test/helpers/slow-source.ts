/**
 * A slow source: a filesystem whose metadata answers wait a fixed time on a
 * timer, as a network filesystem's do. Requests overlap (a timer, not a busy
 * wait), so a server above it that makes its calls one at a time pays each
 * delay in turn, and one that overlaps them does not. Used by the tests and
 * by the bench's slow-source section.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Filesystem } from '../../src/fs/filesystem.js';

/**
 * The `Filesystem` methods that wait by default: every request a network
 * filesystem answers with a round trip to its server (names, attributes,
 * listings, opens and every change to the namespace). Not delayed: file data
 * (READ, WRITE, FSYNC, FLUSH), the requests that only release something
 * (RELEASE, RELEASEDIR, FORGET, which the caller does not wait for), STATFS,
 * extended attributes and locks.
 */
export const SLOW_OPERATIONS: readonly string[] = [
  'lookup', 'getattr', 'setattr', 'statx', 'access', 'readlink',
  'open', 'opendir', 'readdir', 'readdirplus',
  'create', 'mknod', 'mkdir', 'symlink', 'link', 'unlink', 'rmdir', 'rename',
];

/**
 * `inner` with each method named in `operations` answered `delayMs` after the
 * request arrived: the call itself runs when the timer fires (a filesystem
 * that encodes its reply into shared scratch must run just before the reply
 * is written). Every other member is `inner`'s own.
 */
export function delayedFilesystem<F extends Filesystem>(inner: F, delayMs: number, operations: readonly string[] = SLOW_OPERATIONS): F {
  const slow = new Set<string | symbol>(operations);
  return new Proxy(inner, {
    get(target, key) {
      const member: unknown = Reflect.get(target, key, target);
      if (typeof member !== 'function') return member;
      const fn = member as (...args: unknown[]) => unknown;
      if (delayMs <= 0 || !slow.has(key)) return fn.bind(target);
      return async (...args: unknown[]) => {
        await sleep(delayMs);
        return fn.apply(target, args);
      };
    },
  });
}
