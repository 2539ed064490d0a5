/**
 * PassthroughManager: turns what a filesystem *wants* for an open into a
 * reply the kernel will accept. The filesystem offers a backing file and a
 * wish (or leaves the wish to the policy); the IoModeArbiter decides against
 * the inode's current mode; the BackingRegistry opens one id per inode and
 * closes it after the inode's last passthrough release. Every wish that is not
 * granted is counted by reason, never answered with an EIO.
 */
import { constants as osConstants } from 'node:os';
import { Fopen } from '../abi/constants.js';
import type { BackingId, NodeId } from '../abi/types.js';
import { FuseError } from '../fs/errors.js';
import type { OpenReply } from '../fs/filesystem.js';
import { IoModeArbiter } from './arbiter.js';
import type { IoMode } from './arbiter.js';
import { BackingRegistry } from './backing.js';
import { open, tryClose } from '../sys/index.js';
import { O_PATH, O_CLOEXEC } from '../sys/constants.js';
import type { BackingDevice } from './backing.js';

const E = osConstants.errno;
const O_ACCMODE = 3;
const O_RDONLY = 0;

/**
 * - `auto` (default): passthrough for every regular-file open that offers a backing file, where the kernel allows it.
 * - `always`: the same, but a kernel or process that cannot do passthrough at all is an error at mount time.
 * - `readonly`: passthrough for read-only opens; writable opens go to the server so it sees every write.
 * - `never`: no passthrough; everything through the server.
 */
export type PassthroughPolicy = 'auto' | 'always' | 'readonly' | 'never';

/** Kernel passthrough for a session: which opens use it, and how far it may reach. */
export interface PassthroughConfig {
  /** Which opens use passthrough (default `auto`). */
  policy?: PassthroughPolicy;
  /**
   * With `readonly`: what a writable open gets while the inode is already in
   * passthrough (the kernel allows no other mode then). `share` (default)
   * answers passthrough, so those writes bypass the server; `refuse` fails the
   * open with EBUSY so every write the server allows is one it sees.
   */
  writableConflict?: 'share' | 'refuse';
  /** 1 (default): backing files on ordinary filesystems; 2: also on overlayfs or another passthrough FUSE mount. */
  maxStackDepth?: 1 | 2;
}

/** What passthrough has done so far on a connection. */
export interface PassthroughStats {
  /** Opens answered, by the I/O mode they got. */
  opens: {
    /** Straight to a backing file. */
    passthrough: number;
    /** Through the page cache. */
    cached: number;
    /** Every read and write to the server (FOPEN_DIRECT_IO). */
    direct: number;
  };
  /** Passthrough wishes not granted, by reason (`cached-opens`, `no-backing-file`, `stack-depth`…). */
  fallbacks: Record<string, number>;
  /** Opens whose mode differs from their wish because of another open of the same inode. */
  conflicts: number;
  /** Backing ids registered with the kernel and not closed yet. */
  backingIdsOpen: number;
}

/** The reply flags and backing id an open gets, and its mode. */
export interface ResolvedOpen {
  openFlags: number;
  backingId: number;
  mode: IoMode;
}

/**
 * A session's passthrough: turns each open's wish into a reply the kernel
 * accepts, and keeps the backing ids and counters (see the module comment).
 */
export class PassthroughManager {
  /** The policy in force. */
  readonly policy: PassthroughPolicy;
  private readonly writableConflict: 'share' | 'refuse';
  private readonly arbiter = new IoModeArbiter<number, BackingId>();
  private readonly registry: BackingRegistry;
  /** Why passthrough is off for the whole connection, once it is. */
  private disabledBecause: string | undefined;
  private readonly openModes = new Map<number, Map<number, IoMode[]>>();
  private readonly counters: PassthroughStats = { opens: { passthrough: 0, cached: 0, direct: 0 }, fallbacks: {}, conflicts: 0, backingIdsOpen: 0 };
  private readonly loggedReasons = new Set<string>();

  constructor(device: BackingDevice, config: PassthroughConfig, private readonly log: (line: string) => void) {
    this.policy = config.policy ?? 'auto';
    this.writableConflict = config.writableConflict ?? 'share';
    this.registry = new BackingRegistry(device, log);
    if (this.policy === 'never') this.disabledBecause = 'policy never';
  }

  /**
   * True when passthrough should be asked for at INIT.
   * @internal
   */
  get wanted(): boolean {
    return this.policy !== 'never';
  }

  /** False once passthrough is off for the whole connection (the kernel does not offer it, or this process may not register backing files). */
  get active(): boolean {
    return this.disabledBecause === undefined;
  }

  /**
   * Switches passthrough off for the connection, with one log line saying why.
   * @internal
   */
  disable(reason: string, detail: string): void {
    if (this.disabledBecause !== undefined) return;
    this.disabledBecause = reason;
    this.log(`fusekit: passthrough off (${detail}); file data goes through the server`);
  }

  private fallback(reason: string, detail?: string): void {
    this.counters.fallbacks[reason] = (this.counters.fallbacks[reason] ?? 0) + 1;
    if (detail && !this.loggedReasons.has(reason)) {
      this.loggedReasons.add(reason);
      this.log(`fusekit: passthrough fallback (${reason}): ${detail}`);
    }
  }

  private wishFor(reply: OpenReply, requestFlags: number): IoMode {
    const serverMode: IoMode = (reply.openFlags ?? 0) & Fopen.DIRECT_IO ? 'direct' : 'cached';
    if (reply.ioMode) return reply.ioMode;
    if (!reply.backing) return serverMode;
    switch (this.policy) {
      case 'never':
        return serverMode;
      case 'readonly':
        return (requestFlags & O_ACCMODE) === O_RDONLY ? 'passthrough' : serverMode;
      default:
        return 'passthrough';
    }
  }

  /**
   * Decides the reply to an OPEN or CREATE of a regular file, registering a
   * backing id if the inode enters passthrough. Call `undoOpen` if the reply
   * never reaches the kernel, and `release` on the RELEASE of `fh`.
   * @internal
   */
  resolveOpen(nodeid: NodeId, fh: number, requestFlags: number, reply: OpenReply): ResolvedOpen {
    const fsFlags = reply.openFlags ?? 0;
    const serverMode: IoMode = fsFlags & Fopen.DIRECT_IO ? 'direct' : 'cached';
    let wish = this.wishFor(reply, requestFlags);
    if (wish === 'passthrough' && !this.active) {
      this.fallback(this.disabledBecause!);
      wish = serverMode;
    }
    if (wish === 'passthrough' && !reply.backing) {
      this.fallback('no-backing-file', 'the filesystem asked for passthrough without a backing file');
      wish = serverMode;
    }
    let decision = this.arbiter.decide(nodeid, wish);
    const writable = (requestFlags & O_ACCMODE) !== O_RDONLY;
    if (decision.mode === 'passthrough' && wish !== 'passthrough' && writable && this.policy === 'readonly' && this.writableConflict === 'refuse') {
      this.fallback('refused-writable-open');
      throw new FuseError(E.EBUSY, 'inode is in passthrough; writable opens are refused');
    }
    let backingId = 0;
    if (decision.backing === 'register') {
      try {
        backingId = this.registerBacking(reply.backing!);
      } catch (err) {
        this.backingOpenFailed(err);
        decision = this.arbiter.decide(nodeid, serverMode);
      }
    } else if (decision.backing === 'reuse') {
      backingId = this.arbiter.backingOf(nodeid)!;
    }
    if (decision.conflict) this.counters.conflicts++;
    if (decision.fallback) this.fallback(decision.fallback);
    this.arbiter.opened(nodeid, decision, decision.backing === 'register' ? (backingId as BackingId) : undefined);
    let openFlags = (fsFlags & ~decision.forbiddenFlags & ~Fopen.PASSTHROUGH) | decision.openFlags;
    // A granted passthrough wish means kernel-to-file I/O: the server's own direct-I/O flag would undo it.
    if (decision.mode === 'passthrough' && !(decision.openFlags & Fopen.DIRECT_IO)) openFlags &= ~Fopen.DIRECT_IO;
    if (decision.mode !== 'passthrough') backingId = 0;
    this.counters.opens[decision.mode as IoMode]++;
    let byFh = this.openModes.get(nodeid);
    if (!byFh) this.openModes.set(nodeid, (byFh = new Map()));
    const modes = byFh.get(fh);
    if (modes) modes.push(decision.mode);
    else byFh.set(fh, [decision.mode]);
    return { openFlags, backingId, mode: decision.mode };
  }

  private registerBacking(b: { fd: number } | { path: string }): BackingId {
    if ('fd' in b) return this.registry.register(b.fd);
    const fd = open(b.path, O_PATH | O_CLOEXEC, 0);
    try {
      return this.registry.register(fd);
    } finally {
      tryClose(fd);
    }
  }

  private backingOpenFailed(err: unknown): void {
    const code = (err as { code?: string }).code;
    const msg = (err as Error).message;
    switch (code) {
      case 'EPERM':
        // Not CAP_SYS_ADMIN in the initial namespace, or the kernel refused passthrough: nothing later can succeed.
        this.disable('no-permission', `registering a backing file failed with ${msg}: passthrough needs CAP_SYS_ADMIN`);
        this.fallback('no-permission');
        return;
      case 'EOPNOTSUPP':
        this.disable('kernel-without-passthrough', 'the kernel has no passthrough support');
        this.fallback('kernel-without-passthrough');
        return;
      case 'ELOOP':
        this.fallback('stack-depth', `the backing file's filesystem is stacked too deep (${msg}); raise max_stack_depth to 2 to allow one level`);
        return;
      case 'EISDIR':
      case 'EINVAL':
        this.fallback('not-regular-file', `backing file is not a regular file (${msg})`);
        return;
      default:
        this.fallback('backing-open-failed', `registering a backing file failed: ${msg}`);
    }
  }

  /**
   * The reply of an open never reached the kernel: forget the open as if released.
   * @internal
   */
  undoOpen(nodeid: NodeId, fh: number): void {
    this.release(nodeid, fh);
  }

  /**
   * RELEASE of `fh`: drops the open and closes the inode's backing id after its last passthrough user.
   * @internal
   */
  release(nodeid: NodeId, fh: number): void {
    const byFh = this.openModes.get(nodeid);
    const modes = byFh?.get(fh);
    if (!byFh || !modes) return;
    const mode = modes.shift()!;
    if (modes.length === 0) byFh.delete(fh);
    if (byFh.size === 0) this.openModes.delete(nodeid);
    const backing = this.arbiter.released(nodeid, mode);
    if (backing !== undefined) this.registry.close(backing);
  }

  /** A copy of the counters. */
  stats(): PassthroughStats {
    return {
      opens: { ...this.counters.opens },
      fallbacks: { ...this.counters.fallbacks },
      conflicts: this.counters.conflicts,
      backingIdsOpen: this.registry.openCount,
    };
  }

  /**
   * Closes one backing id dropped by a release; false when none is waiting.
   * @internal
   */
  closeOnePending(): boolean {
    return this.registry.closeOnePending();
  }

  /**
   * Closes every backing id dropped by a release now. Before a name is
   * removed: an id left open keeps the source file open, so a file unlinked
   * through the mount would keep its space until the next idle moment.
   * @internal
   */
  closePendingNow(): void {
    while (this.registry.closeOnePending());
  }

  /**
   * Closes every backing id (the kernel drops them with the connection anyway).
   * @internal
   */
  shutdown(): void {
    this.registry.closeAll();
  }
}
