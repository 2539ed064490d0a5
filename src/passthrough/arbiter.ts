/**
 * IoModeArbiter: the server's side of the kernel's one-I/O-mode-per-inode
 * rule (fs/fuse/iomode.c). A filesystem states a wish for each open of a
 * regular file; the arbiter answers with the mode the OPEN/CREATE reply must
 * carry so the kernel never fails the user's open(2) with EIO.
 *
 * The kernel refuses a reply (EIO) when:
 *  1. the inode is in passthrough and the reply lacks FOPEN_PASSTHROUGH;
 *  2. FOPEN_PASSTHROUGH names another backing object than the inode's;
 *  3. FOPEN_PASSTHROUGH arrives while the inode has cached users: cached opens,
 *     or a FOPEN_DIRECT_IO file with a MAP_SHARED mmap, which the server never
 *     sees;
 *  4. FOPEN_PASSTHROUGH comes with KEEP_CACHE, NONSEEKABLE, STREAM or CACHE_DIR.
 *
 * The arbiter counts, per inode, the opens the server has answered and not yet
 * seen RELEASEd. The kernel drops its own counts before it sends RELEASE, so
 * these counts are always a superset of the kernel's. Every rule below is
 * chosen so that it is safe against any kernel state within that superset:
 *
 *  - passthrough opens never coexist with cached or direct opens in the
 *    arbiter (and so never in the kernel), hence (1), (3) and the invisible
 *    shared mmap of a direct file cannot meet a passthrough inode;
 *  - the inode's backing is fixed from its first passthrough open until the
 *    server hears the last passthrough RELEASE, and only then is it handed
 *    back for closing, hence (2): the kernel's object, if it still has one, is
 *    always the one the id names;
 *  - a passthrough decision forbids the flags of (4).
 *
 * Pure and synchronous: no I/O. The caller registers and closes backing ids.
 */
import { Fopen } from '../abi/constants.js';

/**
 * What an open's reply carries: `cached` (no mode flag: page cache),
 * `direct` (FOPEN_DIRECT_IO: every read and write goes to the server),
 * `passthrough` (FOPEN_PASSTHROUGH: the kernel does I/O on the backing file).
 */
export type IoMode = 'cached' | 'direct' | 'passthrough';

/** Why a passthrough wish was not granted. */
export type FallbackReason = 'cached-opens' | 'direct-opens';

export interface ArbiterDecision {
  /** What the reply must be. */
  mode: IoMode;
  /** FOPEN_* bits the reply must carry: PASSTHROUGH and/or DIRECT_IO, or none. */
  openFlags: number;
  /**
   * FOPEN_* bits the caller must clear from its own flags. Always contains the
   * mode bits (PASSTHROUGH, DIRECT_IO) that `openFlags` lacks, so
   * `(callerFlags & ~forbiddenFlags) | openFlags` has exactly the mode's bits;
   * for passthrough also KEEP_CACHE, NONSEEKABLE, STREAM and CACHE_DIR.
   */
  forbiddenFlags: number;
  /** Passthrough: reuse the inode's backing, or register a new one (first passthrough open). */
  backing: 'reuse' | 'register' | 'none';
  /** The granted mode differs from the wish because of another open of the inode. */
  conflict: boolean;
  /** Set when a passthrough wish was not granted. */
  fallback?: FallbackReason;
}

export interface InodeIoState<B> {
  cachedOpens: number;
  directOpens: number;
  passthroughOpens: number;
  /** Set exactly while passthroughOpens > 0. */
  backing: B | undefined;
}

export interface IoModeArbiterOptions {
  /**
   * Mode given to a passthrough wish refused because the inode has cached
   * opens. Default `cached`: the inode is cached anyway, so the open gets the
   * page cache like its siblings.
   */
  fallbackOnCachedOpens?: 'cached' | 'direct';
  /**
   * Mode given to a passthrough wish refused because the inode has direct
   * opens. Default `direct`: a direct open takes no mode in the kernel, so it
   * does not keep the inode out of passthrough after the other direct files
   * close (a cached fallback would, for as long as it stays open), and it keeps
   * the page cache out of an inode whose other opens bypass it.
   */
  fallbackOnDirectOpens?: 'cached' | 'direct';
}

/** Flags the kernel rejects together with FOPEN_PASSTHROUGH (iomode.c: outside FOPEN_PASSTHROUGH_MASK). */
export const PASSTHROUGH_FORBIDDEN_FLAGS = Fopen.KEEP_CACHE | Fopen.NONSEEKABLE | Fopen.STREAM | Fopen.CACHE_DIR;

const MODE_BITS = Fopen.PASSTHROUGH | Fopen.DIRECT_IO;

function makeDecision(mode: IoMode, openFlags: number, backing: ArbiterDecision['backing'], conflict: boolean, fallback?: FallbackReason): ArbiterDecision {
  let forbiddenFlags = MODE_BITS & ~openFlags;
  if (mode === 'passthrough') forbiddenFlags |= PASSTHROUGH_FORBIDDEN_FLAGS;
  const d: ArbiterDecision = { mode, openFlags, forbiddenFlags, backing, conflict };
  if (fallback !== undefined) d.fallback = fallback;
  return d;
}

/** A reply in a non-passthrough mode: cached carries no mode bit, direct carries DIRECT_IO. */
function plain(mode: 'cached' | 'direct', conflict: boolean, fallback?: FallbackReason): ArbiterDecision {
  return makeDecision(mode, mode === 'direct' ? Fopen.DIRECT_IO : 0, 'none', conflict, fallback);
}

export class IoModeArbiter<K, B> {
  private readonly inodes = new Map<K, InodeIoState<B>>();
  private readonly onCachedOpens: 'cached' | 'direct';
  private readonly onDirectOpens: 'cached' | 'direct';

  constructor(options: IoModeArbiterOptions = {}) {
    this.onCachedOpens = options.fallbackOnCachedOpens ?? 'cached';
    this.onDirectOpens = options.fallbackOnDirectOpens ?? 'direct';
  }

  /** The reply an open of `key` wishing `wish` must get. A pure query: call `opened` to record it. */
  decide(key: K, wish: IoMode): ArbiterDecision {
    const s = this.inodes.get(key);
    const passthroughOpens = s?.passthroughOpens ?? 0;
    if (passthroughOpens > 0) {
      // The kernel may still hold this inode's backing object: any other reply is EIO (rule 1),
      // any other backing is EIO (rule 2). A direct wish keeps I/O on the server with DIRECT_IO.
      const openFlags = wish === 'direct' ? Fopen.PASSTHROUGH | Fopen.DIRECT_IO : Fopen.PASSTHROUGH;
      return makeDecision('passthrough', openFlags, 'reuse', wish !== 'passthrough');
    }
    if (wish !== 'passthrough') return plain(wish, false);
    // Cached opens make the kernel refuse passthrough (rule 3).
    if ((s?.cachedOpens ?? 0) > 0) return plain(this.onCachedOpens, true, 'cached-opens');
    // A direct file may have a shared mmap we cannot see, which makes the inode cached (rule 3).
    if ((s?.directOpens ?? 0) > 0) return plain(this.onDirectOpens, true, 'direct-opens');
    return makeDecision('passthrough', Fopen.PASSTHROUGH, 'register', false);
  }

  /**
   * Records an open whose reply, built from `decision`, the server is about to
   * send. `backing` is the newly registered handle when `decision.backing` is
   * `register`. Throws if the decision no longer fits the inode (a decision
   * used twice, or state changed between `decide` and `opened`).
   */
  opened(key: K, decision: ArbiterDecision, backing?: B): void {
    const s = this.inodes.get(key) ?? { cachedOpens: 0, directOpens: 0, passthroughOpens: 0, backing: undefined };
    const stale = (why: string): never => {
      throw new Error(`IoModeArbiter: stale decision (${decision.mode}, backing ${decision.backing}): ${why}`);
    };
    if (decision.mode === 'passthrough') {
      if (s.cachedOpens > 0 || s.directOpens > 0) stale('the inode has cached or direct opens');
      if (decision.backing === 'register') {
        if (s.passthroughOpens > 0) stale('the inode already has a backing');
        if (backing === undefined) stale('a registered backing is required');
        s.backing = backing;
      } else if (decision.backing === 'reuse') {
        if (s.passthroughOpens === 0) stale('the inode has no backing to reuse');
        if (backing !== undefined && backing !== s.backing) stale('another backing than the inode\'s');
      } else {
        stale('passthrough needs a backing');
      }
      s.passthroughOpens++;
    } else {
      if (s.passthroughOpens > 0) stale('the inode is in passthrough');
      if (decision.backing !== 'none') stale('only passthrough has a backing');
      if (decision.mode === 'cached') s.cachedOpens++;
      else s.directOpens++;
    }
    this.inodes.set(key, s);
  }

  /**
   * Records the RELEASE of an open that was answered with `mode`. Returns the
   * inode's backing when this was its last passthrough open: the caller closes
   * it (the kernel has already dropped its own reference by now).
   */
  released(key: K, mode: IoMode): B | undefined {
    const s = this.inodes.get(key);
    const field = mode === 'cached' ? 'cachedOpens' : mode === 'direct' ? 'directOpens' : 'passthroughOpens';
    if (s === undefined || s[field] === 0) throw new Error(`IoModeArbiter: release of a ${mode} open that was never recorded`);
    s[field]--;
    let toClose: B | undefined;
    if (mode === 'passthrough' && s.passthroughOpens === 0) {
      toClose = s.backing;
      s.backing = undefined;
    }
    if (s.cachedOpens === 0 && s.directOpens === 0 && s.passthroughOpens === 0) this.inodes.delete(key);
    return toClose;
  }

  /** The inode's backing while it has passthrough opens. */
  backingOf(key: K): B | undefined {
    return this.inodes.get(key)?.backing;
  }

  state(key: K): InodeIoState<B> {
    const s = this.inodes.get(key);
    return s ? { ...s } : { cachedOpens: 0, directOpens: 0, passthroughOpens: 0, backing: undefined };
  }

  /** Inodes with any open; 0 once everything is released. */
  get trackedInodes(): number {
    return this.inodes.size;
  }
}
