/**
 * `mountPaths()`: mounts a `PathFilesystem`, the path-level counterpart of
 * `mount()`.
 */
import { mount, MountError } from '../session/mount.js';
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
  if (typeof filesystem !== 'object' || filesystem === null) {
    throw new MountError(`mountPaths() needs a filesystem: an object with the PathFilesystem methods it implements, not ${filesystem === null ? 'null' : typeof filesystem}`, 'EINVAL');
  }
  if (typeof options !== 'object' || options === null) throw new MountError(`mountPaths() options must be an object (or left out), not ${options === null ? 'null' : typeof options}`, 'EINVAL');
  const { entryTimeout, attrTimeout, negativeTimeout, unlinkedOpen, ...rest } = options;
  const adapter = new PathAdapter(filesystem, { entryTimeout, attrTimeout, negativeTimeout, unlinkedOpen });
  const m = await mount(mountpoint, adapter, rest as BaseMountOptions);
  return Object.assign(m, { adapter });
}
