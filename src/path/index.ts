/** The path layer: filesystems by path on top of the inode API. */
export { PathAdapter, toAttr } from './adapter.js';
export type { PathOptions } from './adapter.js';
export { mountPaths } from './mount.js';
export type { PathMount, PathMountOptions } from './mount.js';
export type * from './filesystem.js';
