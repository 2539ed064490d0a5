/**
 * The mirror's source watcher: learns of changes made in the source
 * directly (another process, another mount of the same filesystem) and tells
 * the kernel exactly what it may have cached wrongly, so the mirror can let
 * the kernel cache names and attributes for a long time.
 *
 * Mechanism: inotify, one watch per directory the kernel knows (the
 * directories in the mirror's inode table), added when the kernel first gets
 * a directory and removed when it forgets it. Watches and memory therefore
 * grow with what the kernel caches, not with the size of the source: a
 * 200,000-entry tree costs nothing until it is walked, and a walk costs one
 * watch per directory the kernel keeps. (fanotify would see a whole
 * filesystem with one mark, but needs CAP_SYS_ADMIN, reports every change on
 * that filesystem, including outside the source, and names directories by
 * file handle, which the mirror's table does not key by; see the README's
 * section on --watch for the measurements behind the choice.)
 *
 * What each event invalidates:
 *
 * - a name created, removed or renamed in a known directory: that name
 *   (NOTIFY_INVAL_ENTRY), and the directory's attributes and cached listing
 *   (NOTIFY_INVAL_INODE with its pages: the kernel keeps listings in the
 *   directory's page cache, and drops them itself only when the name
 *   invalidated was cached, or when it sees a new mtime, which may not differ
 *   within one clock tick);
 * - a child's attributes or content changed (ATTRIB, MODIFY),
 *   when the kernel knows the child: its attributes (written at once) and,
 *   for content, its cached pages (files in passthrough have none, and the
 *   invalidation then costs the kernel nothing);
 * - a directory's own attributes changed: its attributes;
 * - the queue overflowed (events lost): everything the kernel holds: every
 *   name (NOTIFY_INC_EPOCH), every attribute, every page and listing.
 *
 * Changes the mirror makes itself through the mount produce the same
 * events; the mirror announces each one (`expectEntry`, `expectAttr`) just
 * after making it, and the matching event is dropped, because the kernel
 * already knows. inotify queues an event inside the system call that causes
 * it, and the mirror announces on the same thread, after the call, so the
 * event of every announced change is in the queue when the next read starts:
 * an announcement is matched against that read only, and forgotten after it
 * (its event was merged into another, or will never come). Writes in
 * passthrough never pass through the mirror: their
 * events are recognised while the mount has the file open for writing (a
 * change made directly in SRC to a file the mount is writing at the same time
 * shows once the mount's writer closes it and the next change comes, or after
 * the timeouts).
 *
 * Events are read on the serving thread (the event loop watches the inotify
 * descriptor), gathered per read, each inode and name invalidated once per
 * read. While they keep coming (the mirror's own creates, an untar) they are
 * read every BATCH_MS by a timer instead of on every wake-up, and matched
 * against the announced changes in place, without an object per event.
 *
 * inotify merges an event into the one queued just before it when both are
 * the same (same watch, bits and name, none read in between): a chmod then a
 * utimes through the mount may give one ATTRIB. Announcements are counted,
 * one event each, and what a read leaves over is dropped with it, so a count
 * left over by merged events never hides a later change made in SRC.
 */
import { readlinkSync } from 'node:fs';
import type { Notifier } from '../fs/filesystem.js';
import type { Logger } from '../fs/logger.js';
import { AT_SYMLINK_NOFOLLOW, S_IFDIR, S_IFREG } from '../sys/constants.js';
import { emptyStat, tryClose, tryFstatat, tryRead, watchReadable } from '../sys/index.js';
import type { ReadableWatch } from '../sys/index.js';
import { In, IN_CLOEXEC, IN_NONBLOCK, inotifyAddWatch, inotifyInit, inotifyRmWatch, watchMountTable } from '../sys/watch.js';
import type { MountTableWatch } from '../sys/watch.js';
import { readMountInfo } from '../transport/mount.js';
import type { InodeTable, MirrorInode } from './inodes.js';
import { constants as osConstants } from 'node:os';

const E = osConstants.errno;
/** What a directory watch reports. */
const DIR_MASK =
  In.CREATE | In.DELETE | In.MOVED_FROM | In.MOVED_TO | In.ATTRIB | In.MODIFY | In.DELETE_SELF | In.EXCL_UNLINK | In.ONLYDIR;
/**
 * Names are invalidated a second time this long after the first. A LOOKUP
 * or READDIRPLUS answered just before the change reaches the kernel's
 * cache in its caller's context, which can be later than our invalidation:
 * the name would then be cached again as it was, for the whole entry
 * timeout. (Attributes need no second round: the kernel drops an attribute
 * reply older than an invalidation itself.)
 *
 * The second round, and the first for a name that exists now (created,
 * moved here), only expire the name (EXPIRE_ONLY): its next use revalidates
 * it with a LOOKUP, which drops it if it is stale, but a name the kernel
 * already looked up correctly stays in place. Dropping it would cut off a
 * process that has just made the new directory its working directory:
 * getcwd() fails with ENOENT until something looks the name up again. A
 * name that is gone (deleted, moved away) is dropped at once, as a local
 * filesystem does to the working directory of a process inside a removed
 * directory.
 */
const SETTLE_MS = 50;

/**
 * While events keep coming, they are read at most this often. The mirror's
 * own creates and unlinks each raise an event it must read and recognise:
 * reading them one wake-up per event cost creates and untar 10-25%. The first
 * event after a quiet spell is read at once; later ones, by timer, this long
 * after the previous read, until a read finds none and hands the descriptor
 * back to the event loop (stopping and restarting its poll costs two
 * epoll_ctl calls: once per burst, not per read). So a change in a quiet SRC
 * shows at once, and one in a busy SRC at most this much later.
 */
const BATCH_MS = 5;
/**
 * Name invalidations waiting to be written past which a drain's names are
 * expired all at once instead (NOTIFY_INC_EPOCH, one message written at
 * once): each costs the kernel 15-45 µs on a pool thread, so a burst of
 * changes in SRC (a checkout renaming 10,000 files) would otherwise delay
 * every later change's invalidation by up to a second per 20,000 names.
 * Every cached name is then looked up again on its next use.
 */
const NAME_BACKLOG = 1024;
/** The longest inotify record: its 16-byte header and a name of NAME_MAX bytes, its NUL and padding. */
const MAX_EVENT = 16 + 256;

/** A name change the mirror made through the mount, whose event is still to come. */
interface NameExpectation {
  parent: number;
  /** Where the name's bytes are in the watcher's name arena (copied there: the request's buffer is reused). */
  offset: number;
  length: number;
  /** Events still to come in the next read (0 once they all came; every announcement is dropped when the read ends). */
  count: number;
  /** The next expectation with the same key (a hash collision). */
  next: NameExpectation | undefined;
}

/** A small-integer key for a name in a directory (FNV-1a over the bytes, seeded with the directory): collisions are told apart by comparing the bytes. */
function nameKey(parent: number, b: Buffer, start: number, end: number): number {
  let h = (0x811c9dc5 ^ parent) | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h & 0x3fffffff;
}

/** Whether `e` (its name in `arena`) is the expectation for `parent` and the bytes `b[start, end)`. */
function sameName(e: NameExpectation, arena: Buffer, parent: number, b: Buffer, start: number, end: number): boolean {
  if (e.parent !== parent || e.length !== end - start) return false;
  for (let i = 0; i < e.length; i++) if (arena[e.offset + i] !== b[start + i]) return false;
  return true;
}

/** The expectation in the chain from `first` (one key's) for `parent` and the bytes `b[start, end)`, if any. */
function expectedIn(first: NameExpectation | undefined, arena: Buffer, parent: number, b: Buffer, start: number, end: number): NameExpectation | undefined {
  for (let e = first; e; e = e.next) if (sameName(e, arena, parent, b, start, end)) return e;
  return undefined;
}

/** Counters for the stats file and tests. */
export interface WatchStats {
  /** Directories watched now. */
  watches: number;
  /** inotify records read. */
  events: number;
  /** Events dropped as the mirror's own changes. */
  ownChanges: number;
  /** Names invalidated. */
  entries: number;
  /** Attribute invalidations. */
  attrs: number;
  /** Page invalidations. */
  pages: number;
  /** Queue overflows (each invalidated everything). */
  overflows: number;
  /** Drains whose names were too many to invalidate one by one in time: every cached name was expired at once (NOTIFY_INC_EPOCH). */
  epochs: number;
  /** Directories that could not be watched (watch limit reached, permission): changes in them are seen only through timeouts. */
  unwatched: number;
  /** Filesystems mounted or unmounted inside SRC: each expired every cached name (NOTIFY_INC_EPOCH). */
  mountChanges: number;
}

/** The mount points strictly below `sourcePath`, in table order, joined by NULs (compared, never split). */
function mountPointsBelow(sourcePath: string): string {
  const prefix = sourcePath === '/' ? '/' : `${sourcePath}/`;
  try {
    return readMountInfo()
      .map((e) => e.mountPoint)
      .filter((m) => m.startsWith(prefix) && m !== sourcePath)
      .join('\0');
  } catch {
    return '';
  }
}

/** The source path a /proc/self/fd/N link names, for a log line; the link itself when it cannot be read. */
function describeDirectory(procLink: string): string {
  try {
    return readlinkSync(procLink);
  } catch {
    return procLink;
  }
}

/** Watches the source for the mirror. `close()` ends it. */
export class SourceWatcher {
  readonly stats: WatchStats = { watches: 0, events: 0, ownChanges: 0, entries: 0, attrs: 0, pages: 0, overflows: 0, epochs: 0, unwatched: 0, mountChanges: 0 };
  private readonly fd: number;
  private readonly readable: ReadableWatch;
  /** Reads the queue every BATCH_MS while it has events (made once, re-armed with refresh()). */
  private batchTimer: NodeJS.Timeout | undefined;
  private batching = false;
  private readonly buf = Buffer.allocUnsafeSlow(64 * 1024);
  private readonly childStat = emptyStat();
  /** The name of the last attribute or content event and the inode it named (length 0: none; valid within one drain). */
  private readonly lastChildName: { dir: number; bytes: Buffer; length: number; child: MirrorInode | undefined } = {
    dir: 0, bytes: Buffer.allocUnsafeSlow(256), length: 0, child: undefined,
  };
  /** Watched directories by watch descriptor, and each watched node's descriptor. */
  private readonly dirs = new Map<number, MirrorInode>();
  private readonly wdOf = new Map<number, number>();
  /** Name changes made through the mount since the last read, by nameKey (collisions chained). */
  private readonly expectedNames = new Map<number, NameExpectation>();
  /** The names of expectedNames, back to back; emptied with it at every read (no allocation per name). */
  private nameArena = Buffer.allocUnsafeSlow(16 * 1024);
  private nameArenaUsed = 0;
  /** Attribute and content changes made through the mount since the last read: node id → events expected. */
  private readonly expectedAttrs = new Map<number, number>();
  private warnedLimit = false;
  private warnedDenied = false;
  /**
   * Nodes whose changes made in the source no watch reports: directories
   * the server may not watch (inotify needs read permission on them; an
   * ordinary user's mirror meets such directories, execute-only ones say),
   * and what was looked up in them. Their cache timeouts stay short.
   */
  private readonly unseen = new Set<number>();
  private warnedEpoch = false;
  private closed = false;
  /** One drain's work: names by "parent/name" (with whether the last event took the name away), nodes whose attributes or pages to drop. */
  private readonly names = new Map<string, [number, Buffer, boolean]>();
  // Keyed by node id: a MirrorInode is a view of a table slot, made anew by each look-up.
  private readonly attrs = new Map<number, MirrorInode>();
  private readonly pages = new Map<number, MirrorInode>();
  /** Directories whose entries changed: attributes and cached listing. */
  private readonly listings = new Map<number, MirrorInode>();
  private overflowed = false;
  /**
   * Directories a name was removed from in the source (unlinked, renamed
   * away or renamed over) since the last flush. The name may have been a
   * link of a file open through the mount, whose link count and ctime (what
   * fstat of the open file shows) then changed, and once a name is gone no
   * stat of it can tell which file it was: the attributes of the inodes with
   * files open that were looked up in those directories are dropped at the
   * flush. (A file with more links has the short attribute timeout anyway.)
   */
  private readonly namesGoneIn = new Set<number>();
  /** Names and listings invalidated once, to invalidate again after SETTLE_MS. */
  private settleNames = new Map<string, [number, Buffer]>();
  private settleListings = new Set<number>();
  /** Whether the second round expires every name again (the first did, see NAME_BACKLOG). */
  private settleEpoch = false;
  private settleTimer: NodeJS.Timeout | undefined;
  /** Name invalidations sent and not yet written. */
  private namesInFlight = 0;

  /**
   * @param inodes the mirror's inode table (what the kernel knows)
   * @param notify the session's notifier
   * @param logger where the one-line warnings go
   * @param unwatchable called (once of each kind) when a directory cannot be watched: with the directory when only its own permissions stand in the way (what lies in it is then cached briefly, see `unseen`), without when the next ones would fail too (the watch limit: the mirror then shortens all its cache timeouts)
   * @param writingThroughMount whether the mount has the file open for writing: its content changes are then the mount's own
   * @param sourcePath the source's canonical path: filesystems mounted or unmounted below it are watched too (see `watchMounts`)
   */
  constructor(
    private readonly inodes: InodeTable,
    private readonly notify: Notifier,
    private readonly logger: Logger,
    private readonly unwatchable: (why: string, directory?: string) => void = () => undefined,
    private readonly writingThroughMount: (inode: MirrorInode) => boolean = () => false,
    sourcePath?: string,
  ) {
    this.fd = inotifyInit(IN_NONBLOCK | IN_CLOEXEC);
    this.readable = watchReadable(this.fd, () => this.onReadable());
    this.onBatchTimer = this.onBatchTimer.bind(this);
    if (sourcePath !== undefined) this.watchMounts(sourcePath);
  }

  /** The mount table's watch, if any, and the mount points below the source it last listed (joined). */
  private mounts: MountTableWatch | undefined;
  private mountsBelow = '';

  /**
   * A filesystem mounted on a directory in SRC, or unmounted from one, raises
   * no inotify event, and the kernel would keep what it cached of the
   * directory beneath (or of the mount gone) for the hour. The mount table
   * tells instead: when the mount points below SRC change, every cached name
   * is expired at once (one message; mounts are rare), so each is looked up
   * again at its next use and finds what is mounted there now.
   */
  private watchMounts(sourcePath: string): void {
    this.mountsBelow = mountPointsBelow(sourcePath);
    try {
      this.mounts = watchMountTable(() => {
        if (this.closed) return;
        const now = mountPointsBelow(sourcePath);
        if (now === this.mountsBelow) return;
        this.mountsBelow = now;
        this.stats.mountChanges++;
        this.notify.incEpoch();
      });
    } catch (err) {
      this.logger.warn(`fusekit: --watch: the mount table cannot be watched (${(err as Error).message}): a filesystem mounted in SRC later shows only after the cache timeouts`);
    }
  }

  /** Stops watching the mount table (see `watchMounts`), giving back its two descriptors. */
  stopWatchingMounts(): void {
    this.mounts?.close();
    this.mounts = undefined;
  }

  /** The kernel knows directory `dir` now: watch it (once). */
  watchDir(dir: MirrorInode): void {
    if (this.closed || this.wdOf.has(dir.nodeid)) return;
    let where: string;
    try {
      where = dir.procPath;
    } catch {
      // Gone from the source (ESTALE): nothing left to watch.
      return;
    }
    const wd = inotifyAddWatch(this.fd, where, DIR_MASK);
    // Removed since the kernel got it: nothing left to watch.
    if (wd === -E.ENOENT) return;
    if (wd < 0) {
      this.stats.unwatched++;
      if (wd === -E.EACCES || wd === -E.EPERM) {
        // One directory the server may not read: only what lies in it goes unseen.
        this.unseen.add(dir.nodeid);
        if (!this.warnedDenied) {
          this.warnedDenied = true;
          this.unwatchable('no read permission', describeDirectory(where));
        }
        return;
      }
      if (!this.warnedLimit) {
        this.warnedLimit = true;
        const why = wd === -E.ENOSPC ? 'the inotify watch limit (fs.inotify.max_user_watches) is reached' : `inotify_add_watch failed (errno ${-wd})`;
        this.unwatchable(why);
      }
      return;
    }
    // Hard links do not exist for directories, but two node ids may briefly share one (a name replaced): the newest wins.
    const old = this.dirs.get(wd);
    if (old) this.wdOf.delete(old.nodeid);
    else this.stats.watches++;
    this.dirs.set(wd, dir);
    this.wdOf.set(dir.nodeid, wd);
  }

  /** Whether changes made in the source to node `nodeid` may go unreported (see `unseen`). */
  isUnseen(nodeid: number): boolean {
    return this.unseen.size > 0 && this.unseen.has(nodeid);
  }

  /**
   * `child` was just looked up in `parent`: the table notes the parent (a
   * name removed there may have been an open file's, see `namesGoneIn`), and
   * if no watch sees into `parent`, none sees `child`.
   */
  lookedUpIn(parent: number, child: MirrorInode): void {
    this.inodes.lookedUpIn(child, parent);
    if (this.unseen.size > 0 && this.unseen.has(parent)) this.unseen.add(child.nodeid);
  }

  /** The kernel forgot node `nodeid`: stop watching it if it is a watched directory. */
  forgotten(nodeid: number): void {
    if (this.unseen.size > 0) this.unseen.delete(nodeid);
    const wd = this.wdOf.get(nodeid);
    if (wd === undefined) return;
    this.wdOf.delete(nodeid);
    this.dirs.delete(wd);
    this.stats.watches--;
    inotifyRmWatch(this.fd, wd);
  }

  /** The mirror just created, removed or renamed `name` in `parent` through the mount. */
  expectEntry(parent: MirrorInode, name: Buffer): void {
    const id = parent.nodeid;
    const key = nameKey(id, name, 0, name.length);
    const first = this.expectedNames.get(key);
    const known = expectedIn(first, this.nameArena, id, name, 0, name.length);
    if (known) {
      known.count++;
      return;
    }
    const offset = this.nameArenaUsed;
    if (offset + name.length > this.nameArena.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(2 * this.nameArena.length, offset + name.length));
      this.nameArena.copy(bigger, 0, 0, offset);
      this.nameArena = bigger;
    }
    const arena = this.nameArena;
    for (let i = 0; i < name.length; i++) arena[offset + i] = name[i]!;
    this.nameArenaUsed = offset + name.length;
    this.expectedNames.set(key, { parent: id, offset, length: name.length, count: 1, next: first });
  }

  /** The mirror just changed `inode`'s attributes or content through the mount. */
  expectAttr(inode: MirrorInode): void {
    this.expectedAttrs.set(inode.nodeid, (this.expectedAttrs.get(inode.nodeid) ?? 0) + 1);
  }

  /**
   * Reads the events queued now. The mirror calls it before the mount's last
   * writer of a file lets go: the events of its writes (queued inside each
   * write, passthrough ones included) are then still taken as the mount's own,
   * whenever the watcher would otherwise have read them.
   */
  readQueued(): void {
    this.drain();
  }

  /** Stops watching and closes the inotify descriptor. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.readable.close();
    this.stopWatchingMounts();
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batching = false;
    tryClose(this.fd);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.dirs.clear();
    this.wdOf.clear();
    this.stats.watches = 0;
  }

  /** The announcement for `b[start, end)` in `parent`, if any; one whose events all came has count 0 until the read ends. */
  private expectedName(parent: number, b: Buffer, start: number, end: number): NameExpectation | undefined {
    return expectedIn(this.expectedNames.get(nameKey(parent, b, start, end)), this.nameArena, parent, b, start, end);
  }

  /** Whether the event for `b[start, end)` in `parent` is one the mirror announced (consumed if so). */
  private isOwnName(parent: number, b: Buffer, start: number, end: number): boolean {
    const e = this.expectedName(parent, b, start, end);
    if (!e || e.count === 0) return false;
    e.count--;
    this.stats.ownChanges++;
    return true;
  }

  /**
   * Whether the record at `next` in buf[0, len) is a DELETE of the same name
   * (buf[start, end)) under the same watch `wd` (of directory `parent`), and
   * a change the mount announced (checked without taking the announcement:
   * that record takes it).
   */
  private ownDeleteFollows(wd: number, parent: number, b: Buffer, start: number, end: number, next: number, len: number): boolean {
    if (next + 16 > len || b.readInt32LE(next) !== wd || !(b.readUInt32LE(next + 4) & In.DELETE)) return false;
    const nameAt = next + 16;
    const n = end - start;
    if (nameAt + n >= len || b[nameAt + n] !== 0 || b.compare(b, start, end, nameAt, nameAt + n) !== 0) return false;
    return (this.expectedName(parent, b, start, end)?.count ?? 0) > 0;
  }

  /** Whether an attribute or content event for node `id` is one the mirror announced (consumed if so). */
  private isOwnAttr(id: number): boolean {
    const n = this.expectedAttrs.get(id);
    if (n === undefined) return false;
    if (n > 1) this.expectedAttrs.set(id, n - 1);
    else this.expectedAttrs.delete(id);
    this.stats.ownChanges++;
    return true;
  }

  /**
   * Events are waiting after a quiet spell: read them at once (a change in
   * SRC shows without delay), then again BATCH_MS later with whatever else
   * arrived meanwhile, and so on while events keep coming.
   */
  private onReadable(): void {
    if (this.batching || this.closed) return;
    this.drain();
    this.readable.pause();
    this.batching = true;
    if (this.batchTimer) this.batchTimer.refresh();
    else this.batchTimer = setTimeout(this.onBatchTimer, BATCH_MS);
  }

  /** Reads what came; while events keep coming, reads again BATCH_MS later, else hands the descriptor back to the event loop. */
  private onBatchTimer(): void {
    if (this.closed) return;
    if (this.drain()) {
      this.batchTimer!.refresh();
      return;
    }
    this.batching = false;
    this.readable.resume();
  }

  /** Reads and handles every queued event; whether there were any. */
  private drain(): boolean {
    if (this.closed) return false;
    // Between reads the kernel may forget an inode, and its slot name another.
    this.lastChildName.length = 0;
    let any = false;
    for (;;) {
      const n = tryRead(this.fd, this.buf, 0, this.buf.length);
      if (n <= 0) break;
      any = true;
      this.handleEvents(n);
      // The read stops only where the next record would not fit: room for one more means the queue was empty.
      if (n <= this.buf.length - MAX_EVENT) break;
    }
    // What the read did not match was merged into another event, or has none coming.
    if (this.expectedNames.size > 0) {
      this.expectedNames.clear();
      this.nameArenaUsed = 0;
    }
    if (this.expectedAttrs.size > 0) this.expectedAttrs.clear();
    if (!any) return false;
    this.flush();
    return true;
  }

  /** Handles the `struct inotify_event` records in buf[0, len), in place. */
  private handleEvents(len: number): void {
    const b = this.buf;
    let off = 0;
    while (off + 16 <= len) {
      const wd = b.readInt32LE(off);
      const mask = b.readUInt32LE(off + 4);
      const start = off + 16;
      const recordEnd = start + b.readUInt32LE(off + 12);
      if (recordEnd > len) break;
      off = recordEnd;
      let end = start;
      while (end < recordEnd && b[end] !== 0) end++;
      this.stats.events++;
      if (mask & In.Q_OVERFLOW) {
        this.overflowed = true;
        continue;
      }
      const dir = this.dirs.get(wd);
      if (!dir) continue;
      if (mask & In.IGNORED) {
        this.dirs.delete(wd);
        this.wdOf.delete(dir.nodeid);
        this.stats.watches--;
        continue;
      }
      if (end === start) {
        // The directory itself: its attributes (a chmod, say); DELETE_SELF is followed by IGNORED.
        if (mask & In.ATTRIB && !this.isOwnAttr(dir.nodeid)) this.attrs.set(dir.nodeid, dir);
        continue;
      }
      if (mask & (In.CREATE | In.DELETE | In.MOVED_FROM | In.MOVED_TO)) {
        // A name changed: what the last child event's name named may have, too.
        this.lastChildName.length = 0;
        if (!this.isOwnName(dir.nodeid, b, start, end)) {
          if (mask & (In.DELETE | In.MOVED_FROM | In.MOVED_TO)) this.namesGoneIn.add(dir.nodeid);
          const name = Buffer.from(b.subarray(start, end));
          this.names.set(`${dir.nodeid}/${name.toString('latin1')}`, [dir.nodeid, name, (mask & (In.DELETE | In.MOVED_FROM)) !== 0]);
          this.listings.set(dir.nodeid, dir);
        }
        continue;
      }
      // The mount's own unlink changes the link count of the file it removes:
      // an ATTRIB on the name right before its DELETE, both queued inside the
      // one unlink. The kernel already knows, and a stat of the name would
      // only find it gone.
      if (mask === In.ATTRIB && this.ownDeleteFollows(wd, dir.nodeid, b, start, end, recordEnd, len)) {
        this.stats.ownChanges++;
        continue;
      }
      this.childChanged(dir, b.subarray(start, end), mask);
    }
  }

  /** A child's attributes or content changed: only if the kernel knows that child. */
  private childChanged(dir: MirrorInode, name: Buffer, mask: number): void {
    const child = this.childNamed(dir, name);
    if (!child) return;
    // Written through the mount (in passthrough the kernel writes the source itself and knows the new size and times).
    if (mask & In.MODIFY && !(mask & In.ATTRIB) && this.writingThroughMount(child)) {
      this.stats.ownChanges++;
      return;
    }
    if (this.isOwnAttr(child.nodeid)) return;
    this.attrs.set(child.nodeid, child);
    if (mask & In.MODIFY && child.type === S_IFREG) this.pages.set(child.nodeid, child);
  }

  /**
   * The known inode `name` in `dir` names now, if any. A file written and
   * then chmod'ed, chown'ed or touched (an untar does all four) raises an
   * event for each: the name is stat'ed once for the run of events on it, as
   * long as no name event comes between (which could make it name another).
   */
  private childNamed(dir: MirrorInode, name: Buffer): MirrorInode | undefined {
    const last = this.lastChildName;
    if (last.length > 0 && last.dir === dir.nodeid && name.compare(last.bytes, 0, last.length) === 0) return last.child;
    let dirFd: number;
    try {
      dirFd = dir.fd;
    } catch {
      return undefined;
    }
    last.length = 0;
    if (tryFstatat(dirFd, name, AT_SYMLINK_NOFOLLOW, this.childStat) < 0) return undefined;
    const child = this.inodes.find(this.childStat.dev, this.childStat.ino);
    if (name.length <= last.bytes.length) {
      name.copy(last.bytes);
      last.dir = dir.nodeid;
      last.child = child;
      last.length = name.length;
    }
    return child;
  }

  /** Sends what one drain gathered. */
  private flush(): void {
    if (this.overflowed) {
      this.overflowed = false;
      this.namesGoneIn.clear();
      this.names.clear();
      this.attrs.clear();
      this.pages.clear();
      this.listings.clear();
      this.invalidateEverything();
      return;
    }
    if (this.namesGoneIn.size > 0) {
      for (const id of this.inodes.openInodesIn(this.namesGoneIn)) {
        const inode = this.attrs.has(id) ? undefined : this.inodes.get(id);
        if (inode) this.attrs.set(id, inode);
      }
      this.namesGoneIn.clear();
    }
    for (const inode of this.attrs.values()) {
      this.stats.attrs++;
      this.notify.invalAttr(inode.nodeid);
    }
    this.attrs.clear();
    for (const inode of this.pages.values()) {
      this.stats.pages++;
      void this.notify.invalInode(inode.nodeid, 0, 0);
    }
    this.pages.clear();
    if (this.names.size > 0 && this.expiredEveryName(this.names.size)) {
      this.settleEpoch = true;
      this.names.clear();
    }
    for (const [key, [parent, name, gone]] of this.names) {
      this.stats.entries++;
      if (gone) this.countInFlight(this.notify.invalEntry(parent, name));
      else this.expireEntry(parent, name);
      this.settleNames.set(key, [parent, name]);
    }
    this.names.clear();
    for (const dir of this.listings.values()) {
      this.stats.pages++;
      void this.notify.invalInode(dir.nodeid, 0, 0);
      this.settleListings.add(dir.nodeid);
    }
    this.listings.clear();
    if (!this.settleTimer && (this.settleNames.size > 0 || this.settleListings.size > 0 || this.settleEpoch)) {
      this.settleTimer = setTimeout(() => this.settle(), SETTLE_MS);
    }
  }

  /** The second round for names and listings (see SETTLE_MS). */
  private settle(): void {
    this.settleTimer = undefined;
    if (this.closed) return;
    const names = this.settleNames;
    const listings = this.settleListings;
    this.settleNames = new Map();
    this.settleListings = new Set();
    let everyName = false;
    if (this.settleEpoch) {
      this.settleEpoch = false;
      everyName = this.notify.incEpoch() >= 0;
    }
    if (!everyName && !this.expiredEveryName(names.size)) for (const [parent, name] of names.values()) this.expireEntry(parent, name);
    // A node id forgotten meanwhile may name another inode now: only those still watched are invalidated again.
    for (const id of listings) if (this.wdOf.has(id)) void this.notify.invalInode(id, 0, 0);
  }

  /** Marks `name` in `parent` stale (see SETTLE_MS); where the kernel cannot (before protocol 7.38), drops it. */
  private expireEntry(parent: number, name: Buffer): void {
    this.countInFlight(
      this.notify.invalEntry(parent, name, { expireOnly: true }).then((r) => (r === -E.ENOSYS ? this.notify.invalEntry(parent, name) : r)),
    );
  }

  /**
   * When `n` more name invalidations would put more than NAME_BACKLOG in
   * flight, too many to send one by one in time: expires every name at once
   * instead, and says so (false where the kernel cannot).
   */
  private expiredEveryName(n: number): boolean {
    if (this.namesInFlight + n <= NAME_BACKLOG || this.notify.incEpoch() < 0) return false;
    this.stats.epochs++;
    return true;
  }

  /** Counts a name invalidation until it is written (see NAME_BACKLOG). */
  private countInFlight(written: Promise<number>): void {
    this.namesInFlight++;
    void written.finally(() => {
      this.namesInFlight--;
    });
  }

  /**
   * Events were lost: nothing the kernel holds can be trusted. Names expire
   * by epoch (one message); attributes are dropped one by one (cheap, written
   * at once); pages (file data, directory listings) are dropped one inode at
   * a time in the background.
   */
  private invalidateEverything(): void {
    this.stats.overflows++;
    this.logger.warn('fusekit: --watch: the inotify queue overflowed; invalidating everything the kernel caches');
    // Every inode, whether held by descriptor or by handle.
    const ids = this.inodes.knownNodeIds();
    if (this.notify.incEpoch() < 0 && !this.warnedEpoch) {
      this.warnedEpoch = true;
      this.logger.warn('fusekit: --watch: this kernel has no NOTIFY_INC_EPOCH (Linux 6.16+): names cached before the overflow stay until their timeout');
    }
    const files: number[] = [];
    for (const id of ids) {
      this.stats.attrs++;
      this.notify.invalAttr(id);
      const type = this.inodes.get(id)?.type;
      if (type === S_IFREG || type === S_IFDIR) files.push(id);
    }
    void (async () => {
      for (const id of files) {
        if (this.closed) return;
        this.stats.pages++;
        await this.notify.invalInode(id, 0, 0);
      }
    })();
  }
}
