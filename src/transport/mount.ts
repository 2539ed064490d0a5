/**
 * Mounting and unmounting with mount(2)/umount2(2) directly (needs
 * CAP_SYS_ADMIN; an ordinary user mounts through fusermount3, see
 * fusermount.ts), and the connection control files under
 * /sys/fs/fuse/connections.
 *
 * mount(2) and umount2(2) resolve their path, and resolving a path inside a
 * FUSE mount asks that mount's server: when the server is this process, a
 * synchronous call would wait for its own thread. So both run on libuv's
 * thread pool, and the serving thread stays free to answer.
 */
import * as fs from 'node:fs';
import { mountAsync, umount2Async } from '../sys/index.js';
import { MS_NOSUID, MS_NODEV, MS_RDONLY, MNT_DETACH } from '../sys/constants.js';

/** What the kernel is told when a FUSE filesystem is mounted: mount(2)'s flags and its `fuse` option string. */
export interface KernelMountParams {
  /** Shown as the device field of /proc/mounts (e.g. the mirrored directory). */
  source: string;
  /** Filesystem type becomes `fuse.<subtype>`. */
  subtype: string;
  /** File type and permission bits of the root inode (S_IFDIR | perms). */
  rootMode: number;
  /** Owner of the mount; without allowOther only this user may access it (a mount made by an ordinary user refuses even root). */
  uid: number;
  /** Group of the mount's owner. */
  gid: number;
  /** Let every user reach the mount, not only its owner (allow_other; for users it needs user_allow_other in /etc/fuse.conf). */
  allowOther?: boolean;
  /** Let the kernel check permissions from mode/uid/gid; ACCESS is then never sent. */
  defaultPermissions?: boolean;
  /** Mount read-only (MS_RDONLY): every write fails with EROFS before reaching the server. */
  readOnly?: boolean;
  /** Limit for READ request size in bytes. */
  maxRead?: number;
  /** Extra MS_* flags. */
  flags?: number;
  /** Honour set-user-ID bits and device nodes (default off: MS_NOSUID and MS_NODEV, as libfuse does). */
  suid?: boolean;
  /** Honour device nodes (see `suid`); refused for ordinary users. */
  dev?: boolean;
}

/** The `fuse` filesystem's option string for mount(2). */
export function mountOptionsString(fd: number, o: KernelMountParams): string {
  const parts = [
    `fd=${fd}`,
    `rootmode=${(o.rootMode >>> 0).toString(8)}`,
    `user_id=${o.uid}`,
    `group_id=${o.gid}`,
  ];
  if (o.allowOther) parts.push('allow_other');
  if (o.defaultPermissions) parts.push('default_permissions');
  if (o.maxRead) parts.push(`max_read=${o.maxRead}`);
  return parts.join(',');
}

/** The MS_* flags mount(2) gets for `o`. */
export function mountFlags(o: KernelMountParams): number {
  let flags = (o.suid ? 0 : MS_NOSUID) | (o.dev ? 0 : MS_NODEV) | (o.flags ?? 0);
  if (o.readOnly) flags |= MS_RDONLY;
  return flags;
}

/**
 * Mounts the FUSE connection of `fd` at `target` with mount(2), off the
 * calling thread. Rejects with a SysError (EPERM, EINVAL, ENOTDIR…).
 */
export function mountFuse(fd: number, target: string, o: KernelMountParams): Promise<void> {
  return mountAsync(o.source, target, `fuse.${o.subtype}`, mountFlags(o), mountOptionsString(fd, o));
}

/**
 * Unmounts with umount2(2), off the calling thread; `lazy` detaches now and
 * lets the kernel finish when the last user leaves. Rejects with a SysError
 * (EBUSY, EINVAL when nothing is mounted there, EPERM without CAP_SYS_ADMIN).
 */
export function unmount(target: string, lazy = false): Promise<void> {
  return umount2Async(target, lazy ? MNT_DETACH : 0);
}

/** One line of /proc/self/mountinfo (proc(5)), with the escapes in paths undone. */
export interface MountInfoEntry {
  major: number;
  /** For a FUSE mount, the connection number under /sys/fs/fuse/connections. */
  minor: number;
  mountPoint: string;
  /** Per-mount options (`rw,nosuid,nodev,relatime`...). */
  options: string;
  /** `fuse.<subtype>` for a FUSE mount. */
  fsType: string;
  source: string;
  /** Per-superblock options (for FUSE: `user_id=0,group_id=0,allow_other`...). */
  superOptions: string;
}

/** Undo the octal escapes of /proc/self/mountinfo (space, tab, newline, backslash). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses the text of /proc/PID/mountinfo, in table order (a later entry at the same point is mounted on top). */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const f = pre.split(' ');
    const [maj, min] = f[2].split(':').map(Number);
    const g = post.split(' ');
    out.push({
      major: maj,
      minor: min,
      mountPoint: unescapeMountField(f[4]),
      options: f[5] ?? '',
      fsType: g[0],
      source: unescapeMountField(g[1] ?? ''),
      superOptions: g[2] ?? '',
    });
  }
  return out;
}

/** This process's mount table. Reading it never touches a mount, so a hung server cannot block it. */
export function readMountInfo(): MountInfoEntry[] {
  return parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at `target` (the one a path lookup there reaches), read without touching it. */
export function topMountAt(target: string): MountInfoEntry | undefined {
  return readMountInfo().filter((e) => e.mountPoint === target).at(-1);
}

/** Whether a filesystem type is FUSE (`fuse`, `fuseblk`, or either with a `.subtype`); fusectl is not. */
export function isFuseFsType(fsType: string): boolean {
  return fsType === 'fuse' || fsType === 'fuseblk' || fsType.startsWith('fuse.') || fsType.startsWith('fuseblk.');
}

/** The FUSE connection number of the mount at `target` (the minor of its device), read without touching the mount. */
export function connectionIdOf(target: string): number | undefined {
  const entries = readMountInfo().filter((e) => e.mountPoint === target && isFuseFsType(e.fsType));
  return entries.length ? entries[entries.length - 1].minor : undefined;
}

/** Whether anything is mounted at `target` (an absolute path, as the mount table spells it). */
export function isMounted(target: string): boolean {
  return readMountInfo().some((e) => e.mountPoint === target);
}

const FUSECTL = '/sys/fs/fuse/connections';

/** Aborts a connection through fusectl: every request fails and the server's reads return ENODEV. */
export function abortConnection(connectionId: number): boolean {
  try {
    fs.writeFileSync(`${FUSECTL}/${connectionId}/abort`, '1');
    return true;
  } catch {
    return false;
  }
}
