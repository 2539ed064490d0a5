/**
 * inotify(7), as the mirror's source watcher needs it: Node's fs.watch is
 * too coarse (it folds every event into "rename" or "change", drops the
 * overflow event, and takes one handle per path), so the three calls are
 * bound here. The records read from the descriptor (`struct inotify_event`:
 * wd, mask, cookie, name length as 32-bit little-endian words, then the
 * NUL-padded name) are parsed by the reader in place, without an object per
 * event.
 */
import { bind, callOrErrno, callOrThrow } from './binding.js';
import { O_CLOEXEC, O_RDONLY } from './constants.js';
import { open, tryClose, watchReadable } from './libc.js';
import type { CStr } from './binding.js';

const c_inotify_init1 = bind<(flags: number) => number>('int inotify_init1(int)');
const c_inotify_add_watch = bind<(fd: number, path: CStr, mask: number) => number>('int inotify_add_watch(int, const char *, uint32_t)');
const c_inotify_rm_watch = bind<(fd: number, wd: number) => number>('int inotify_rm_watch(int, int)');

/** inotify event bits (`struct inotify_event.mask`) and inotify_add_watch flags. */
export const In = {
  ACCESS: 0x1,
  MODIFY: 0x2,
  ATTRIB: 0x4,
  CLOSE_WRITE: 0x8,
  CLOSE_NOWRITE: 0x10,
  OPEN: 0x20,
  MOVED_FROM: 0x40,
  MOVED_TO: 0x80,
  CREATE: 0x100,
  DELETE: 0x200,
  DELETE_SELF: 0x400,
  MOVE_SELF: 0x800,
  /** The filesystem was unmounted. */
  UNMOUNT: 0x2000,
  /** The queue overflowed: events were lost (wd -1). */
  Q_OVERFLOW: 0x4000,
  /** The watch is gone (removed, or its inode deleted). */
  IGNORED: 0x8000,
  /** Add-watch flag: only if the path is a directory. */
  ONLYDIR: 0x1000000,
  /** Add-watch flag: do not follow a final symlink. */
  DONT_FOLLOW: 0x2000000,
  /** Add-watch flag: no events for children after they are unlinked. */
  EXCL_UNLINK: 0x4000000,
  /** Event bit: the subject is a directory. */
  ISDIR: 0x40000000,
} as const;

/** inotify_init1 flags. */
export const IN_NONBLOCK = 0o4000;
/** inotify_init1 flags. */
export const IN_CLOEXEC = 0o2000000;

/** inotify_init1(2). Throws SysError (EMFILE: the per-user instance limit). */
export function inotifyInit(flags: number): number {
  return callOrThrow('inotify_init1', () => c_inotify_init1(flags));
}

/** inotify_add_watch(2): the watch descriptor, or -errno (ENOSPC: max_user_watches reached; ENOENT; EACCES). */
export function inotifyAddWatch(fd: number, path: string, mask: number): number {
  return callOrErrno(() => c_inotify_add_watch(fd, path, mask));
}

/** inotify_rm_watch(2): 0 or -errno (EINVAL: the watch is already gone). */
export function inotifyRmWatch(fd: number, wd: number): number {
  return callOrErrno(() => c_inotify_rm_watch(fd, wd));
}

// ---------------------------------------------------------------------------
// The mount table

const c_epoll_create1 = bind<(flags: number) => number>('int epoll_create1(int)');
const c_epoll_ctl = bind<(epfd: number, op: number, fd: number, event: Buffer) => number>('int epoll_ctl(int, int, int, void *)');
const c_epoll_wait = bind<(epfd: number, events: Buffer, max: number, timeout: number) => number>('int epoll_wait(int, void *, int, int)');
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLLPRI = 0x2;
const EPOLLERR = 0x8;

/** A watch on this process's mount table (see `watchMountTable`). */
export interface MountTableWatch {
  /** Stops watching and closes the descriptors. */
  close(): void;
}

/**
 * Calls `onChange` on the event loop after something is mounted or unmounted
 * in this process's mount namespace (now and then without a change: compare
 * the table). inotify reports neither; the kernel
 * flags /proc/self/mountinfo instead (POLLPRI), which libuv's poll handles do
 * not watch, so the file sits in an epoll set of its own whose descriptor the
 * event loop watches for readability. The watch does not keep the process
 * alive. Throws a SysError when the descriptors cannot be had.
 */
export function watchMountTable(onChange: () => void): MountTableWatch {
  const fd = open('/proc/self/mountinfo', O_RDONLY | O_CLOEXEC);
  let epfd = -1;
  try {
    epfd = callOrThrow('epoll_create1', () => c_epoll_create1(EPOLL_CLOEXEC));
    // struct epoll_event: the events word first; the data after it is not used here.
    const event = Buffer.alloc(16);
    event.writeUInt32LE(EPOLLPRI | EPOLLERR, 0);
    callOrThrow('epoll_ctl', () => c_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, event));
  } catch (err) {
    if (epfd >= 0) tryClose(epfd);
    tryClose(fd);
    throw err;
  }
  const events = Buffer.alloc(16);
  // The first poll of the file reports the table as changed: take that now.
  c_epoll_wait(epfd, events, 1, 0);
  const watch = watchReadable(epfd, () => {
    // The event loop's own check of the epoll descriptor may already have
    // taken the event (each poll of the file notes the table's generation),
    // so this wait can come back empty: it only clears the descriptor's
    // readiness. A wake-up is the change, or a spurious one the caller's
    // comparison absorbs.
    c_epoll_wait(epfd, events, 1, 0);
    onChange();
  });
  watch.keepAlive(false);
  return {
    close: () => {
      watch.close();
      tryClose(epfd);
      tryClose(fd);
    },
  };
}
