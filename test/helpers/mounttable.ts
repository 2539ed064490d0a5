/**
 * The mount table as the tests, the conformance runner and the bench see it,
 * and forced cleanup: aborting a FUSE connection through fusectl (every
 * pending and future request on it fails with ENOTCONN) and detaching the
 * mount with `umount -l`. Nothing here touches a mount itself, so a hung
 * server can never hang the caller. Importing this module has no side effects.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connectionIdOf, isFuseFsType, isMounted, readMountInfo, type MountInfoEntry } from '../../src/transport/mount.js';

export { isMounted, type MountInfoEntry };

/** The top-most mount entry at `mnt` (as given: pass canonical paths), if any. */
export function mountAt(mnt: string): MountInfoEntry | undefined {
  const p = path.resolve(mnt);
  const all = readMountInfo().filter((e) => e.mountPoint === p);
  return all[all.length - 1];
}

/** Every FUSE mount currently in the mount table (for leak checks). */
export function fuseMounts(): MountInfoEntry[] {
  return readMountInfo().filter((e) => isFuseFsType(e.fsType));
}

/** Mount points at or below `dir`, deepest first (the order to detach them in). */
export function mountsUnder(dir: string): string[] {
  return readMountInfo()
    .map((e) => e.mountPoint)
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

const FUSECTL_DIR = '/sys/fs/fuse/connections';

/** Mounts fusectl if it isn't (needs root). Never throws. */
export function ensureFusectl(): boolean {
  try {
    if (readMountInfo().some((e) => e.fsType === 'fusectl')) return true;
    spawnSync('mount', ['-t', 'fusectl', 'none', FUSECTL_DIR], { stdio: 'ignore', timeout: 5000 });
    return readMountInfo().some((e) => e.fsType === 'fusectl');
  } catch {
    return false;
  }
}

/**
 * Aborts the FUSE connection of the mount at `mnt` through fusectl. Pending and
 * future requests fail with ENOTCONN and the server's /dev/fuse reads fail with
 * ENODEV. Returns whether an abort was written. Never throws.
 */
export function abortConnection(mnt: string): boolean {
  try {
    const id = connectionIdOf(path.resolve(mnt));
    if (id === undefined) return false;
    ensureFusectl();
    fs.writeFileSync(path.join(FUSECTL_DIR, String(id), 'abort'), '1');
    return true;
  } catch {
    return false;
  }
}

/** Aborts the connection (if FUSE) and detaches the mount with `umount -l`, up to five stacked mounts. Never throws. */
export function forceUnmount(mnt: string): void {
  const p = path.resolve(mnt);
  for (let i = 0; i < 5 && isMountedSafe(p); i++) {
    abortConnection(p);
    try {
      // -c: don't canonicalize (never stat the mountpoint); -i: no umount.<type> helper.
      spawnSync('umount', ['-l', '-c', '-i', p], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* try again */
    }
  }
}

/** Detaches every mount at or below `dir`, deepest first; true when none is left (only then may `dir` be removed). */
export function detachAllUnder(dir: string): boolean {
  for (const m of mountsUnder(dir)) forceUnmount(m);
  return mountsUnder(dir).length === 0;
}

function isMountedSafe(p: string): boolean {
  try {
    return isMounted(p);
  } catch {
    return false;
  }
}
