/**
 * A slow source: a filesystem whose metadata answers wait a fixed time on a
 * timer, as a network filesystem's do. Requests overlap (a timer, not a busy
 * wait), so a server above it that makes its calls one at a time pays each
 * delay in turn, and one that overlaps them does not.
 */
import type { Filesystem } from '../../src/fs/filesystem.js';

/** The requests delayed by default: those a walk, a stat or a listing makes. */
export const SLOW_OPERATIONS = ['lookup', 'getattr', 'readdir', 'readdirplus', 'opendir', 'access'] as const;

/**
 * `inner` with each of `operations` answered `delayMs` later than it would be.
 * Other methods and properties are `inner`'s own.
 */
export function delayedFilesystem<F extends Filesystem>(inner: F, delayMs: number, operations: readonly string[] = SLOW_OPERATIONS): F {
  const slow = new Set<string | symbol>(operations);
  return new Proxy(inner, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (!slow.has(key)) return method.bind(target);
      return (...args: unknown[]) => new Promise((resolve) => setTimeout(resolve, delayMs)).then(() => method.apply(target, args));
    },
  });
}
