/**
 * `mountPaths()`: mounts a `PathFilesystem`, the path-level counterpart of
 * `mount()`.
 */
import { MountError, checkArgumentShapes, mount } from '../session/mount.js';
import type { FuseMount } from '../session/mount.js';
import { PathAdapter } from './adapter.js';
import type { PathOptions } from './adapter.js';
import type { PathFilesystem } from './filesystem.js';

/** `mount()`'s options (mount flags, passthrough, logging), whatever that type is called. */
import type { MountOptions as BaseMountOptions } from '../session/mount.js';

/** Options of `mountPaths()`: everything `mount()` takes, plus the path layer's caching and unlink rules. */
export type PathMountOptions = BaseMountOptions & PathOptions;

/** A mounted path filesystem: the `FuseMount`, and the adapter that holds the node table. */
export interface PathMount extends FuseMount {
  /** The adapter serving the path filesystem (its node table). */
  readonly adapter: PathAdapter;
}

/**
 * Mounts `filesystem` at `mountpoint`. Resolves once the kernel has completed
 * INIT; fails with a `MountError` (and nothing mounted) otherwise.
 */
export async function mountPaths(mountpoint: string, filesystem: PathFilesystem, options: PathMountOptions = {}): Promise<PathMount> {
  // Before the adapter is built from them.
  checkArgumentShapes('mountPaths()', 'PathFilesystem', mountpoint, filesystem, options);
  const { entryTimeout, attrTimeout, negativeTimeout, unlinkedOpen, ...rest } = options;
  for (const [key, v] of [['entryTimeout', entryTimeout], ['attrTimeout', attrTimeout], ['negativeTimeout', negativeTimeout]] as const) {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new MountError(`${key} must be a number of seconds, 0 or more, not ${String(v)}`, 'EINVAL');
    }
  }
  if (unlinkedOpen !== undefined && unlinkedOpen !== 'keep' && unlinkedOpen !== 'hide') {
    throw new MountError(`unlinkedOpen must be 'keep' or 'hide', not ${JSON.stringify(unlinkedOpen)}`, 'EINVAL');
  }
  const adapter = new PathAdapter(filesystem, { entryTimeout, attrTimeout, negativeTimeout, unlinkedOpen });
  const m = await mount(mountpoint, adapter, rest as BaseMountOptions);
  return Object.assign(m, { adapter });
}
