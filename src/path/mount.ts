/**
 * `mountPaths()`: mounts a `PathFilesystem`, the path-level counterpart of
 * `mount()`.
 */
import { checkArgumentShapes, mount } from '../session/mount.js';
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
  const adapter = new PathAdapter(filesystem, { entryTimeout, attrTimeout, negativeTimeout, unlinkedOpen });
  const m = await mount(mountpoint, adapter, rest as BaseMountOptions);
  return Object.assign(m, { adapter });
}
