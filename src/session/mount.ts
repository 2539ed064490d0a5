/**
 * `mount()`: the one call that turns a Filesystem object into a mounted
 * filesystem: checks the mountpoint, gets a /dev/fuse connection mounted
 * there, negotiates, and returns a handle to unmount it. Every failure is a
 * MountError with one clear sentence, and leaves nothing mounted.
 *
 * Two ways to mount: with mount(2) directly, which needs CAP_SYS_ADMIN (root),
 * or through the set-user-ID helper fusermount3, which any user may run on a
 * directory they can write (see transport/fusermount.ts). `mountMethod`
 * chooses; by default root uses mount(2) and everyone else fusermount3.
 *
 * The thread that calls mount() may already serve other mounts of this
 * process, and the new mountpoint may lie inside one of them. Nothing here
 * therefore touches a path synchronously: the checks use fs.promises (libuv's
 * thread pool), mount(2) and umount2(2) run on the pool, fusermount3 is a
 * child process, and the mount table comes from /proc.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FuseChannel } from '../transport/channel.js';
import type { ChannelEnd } from '../transport/channel.js';
import { mountFuse, unmount as umountSyscall, connectionIdOf, abortConnection, readMountInfo, isFuseFsType, topMountAt } from '../transport/mount.js';
import type { KernelMountParams } from '../transport/mount.js';
import {
  findFusermount,
  whyHelperCannotMount,
  readFuseConf,
  fusermountOptions,
  mountWithFusermount,
  unmountWithFusermount,
} from '../transport/fusermount.js';
import type { FusermountMount } from '../transport/fusermount.js';
import { Session } from './session.js';
import { hasCapSysAdmin, mayRegisterBackingFiles } from '../passthrough/probe.js';
import { stderrLogger } from '../fs/logger.js';
import type { SessionOptions } from './session.js';
import type { PassthroughPolicy } from '../passthrough/manager.js';
import type { Filesystem, InitInfo } from '../fs/filesystem.js';

/** Why mount() or unmounting failed, as one sentence; `code` is an errno name where one fits. */
export class MountError extends Error {
  /**
   * @param code the errno name of the cause (ENOENT, EBUSY, EPERM…), where
   *   there is one, as in Node's own system errors
   * @param option the mount() option the sentence is about, where there is
   *   one, so a caller with its own names for options (the CLI) can say it
   *   in those.
   */
  constructor(message: string, readonly code?: string, readonly option?: keyof MountOptions) {
    super(message);
    this.name = 'MountError';
  }
}

/**
 * How the connection gets mounted. `syscall`: mount(2) and umount2(2)
 * directly (needs CAP_SYS_ADMIN). `fusermount`: through fusermount3 (package
 * `fuse3`), as any user. `auto` (default): `syscall` with CAP_SYS_ADMIN
 * unless `autoUnmount` is asked for, `fusermount` otherwise.
 */
export type MountMethod = 'auto' | 'syscall' | 'fusermount';

/** Options of `mount()`: the session's, the kernel mount's, and how to mount and unmount. */
export interface MountOptions extends SessionOptions, Partial<Omit<KernelMountParams, 'rootMode' | 'uid' | 'gid'>> {
  /** Allow mounting over a non-empty directory, or over another process's FUSE mount (default false). */
  nonEmpty?: boolean;
  /**
   * Permission bits of the root directory as the kernel first sees them
   * (default 0o755; the root's GETATTR answer replaces them). fusermount3 does
   * not pass them on.
   */
  rootPermissions?: number;
  /** Device to open (default /dev/fuse). Only with mount(2): fusermount3 opens the device itself. */
  devicePath?: string;
  /** How long to wait for the kernel's INIT after mounting (default 10 s); also the time fusermount3 gets. */
  initTimeoutMs?: number;
  /**
   * Full-size read buffers (maxWrite + 4 KiB each) that requests in flight may
   * hold, which bounds the memory slow WRITE handlers can pin; reading pauses
   * while all are taken (default 256).
   */
  maxLargeBuffers?: number;
  /** mount(2) directly or through fusermount3; see MountMethod (default `auto`). */
  mountMethod?: MountMethod;
  /**
   * Detach the mount when this process dies for any reason, SIGKILL and
   * crashes included (default false). Without it, a process that dies while
   * mounted leaves a dead mount behind: every access fails with ENOTCONN
   * ("Transport endpoint is not connected") until someone unmounts it
   * (`fusekit umount MNT`, `fusermount3 -u MNT`, or `umount MNT` as root).
   *
   * The kernel cannot do this by itself; fusermount3's `auto_unmount` does
   * (a copy of the helper waits for this process's end and then detaches a
   * mount that is still there with a dead connection). So this option mounts
   * through fusermount3, for root as well, and fails with a MountError where
   * fusermount3 is not installed or `mountMethod` is `syscall`.
   */
  autoUnmount?: boolean;
  /**
   * On SIGINT, SIGTERM or SIGHUP: unmount (if the mount is busy, detach it and let
   * open files finish; a second signal aborts the connection), wait until the
   * session has ended, then raise the signal again so the process ends as it
   * would have without a handler (default false).
   *
   * Off by default because listening for a signal changes the whole
   * process: Node no longer exits on it, and an application usually wants
   * to order its own shutdown. Without this option (and without a handler of
   * the application's that unmounts), Ctrl-C kills Node with the mount still
   * in place, leaving the dead mount described under `autoUnmount`. If the
   * application has listeners of its own for the signal, they run as usual
   * and the signal is not raised again: the application then decides when
   * to exit.
   */
  unmountOnSignal?: boolean;
}

/** A mounted filesystem. */
export interface FuseMount {
  /** The absolute, canonical path the filesystem is mounted at. */
  readonly mountpoint: string;
  /** The session serving the mount (stats, passthrough counters, lookup counts). */
  readonly session: Session;
  /** What INIT negotiated with the kernel. */
  readonly info: InitInfo;
  /** How it was mounted. */
  readonly mountMethod: 'syscall' | 'fusermount';
  /** Whether fusermount3 will detach the mount if this process dies. */
  readonly autoUnmount: boolean;
  /**
   * Resolves when the connection ends: `unmounted` (from here or from
   * anywhere), `aborted` (abort(), fusectl, or the kernel's request timeout;
   * aborted from outside, the dead mount stays until it is detached:
   * `forceUnmount()` or `fusekit umount -l`), `closed`, or `error`.
   */
  readonly ended: Promise<ChannelEnd>;
  /**
   * Unmounts; with `lazy`, detaches at once and lets busy users finish.
   * Resolves when the session has ended. Rejects with a MountError whose code
   * is EBUSY when files are open on the mount and `lazy` is not set.
   */
  unmount(options?: { lazy?: boolean }): Promise<ChannelEnd>;
  /**
   * Aborts the connection (every pending and future request fails with
   * ENOTCONN), then detaches the mount. `ended` resolves with `aborted`.
   */
  abort(): Promise<ChannelEnd>;
  /**
   * Lets the process exit while the connection is still up (after a lazy
   * unmount with files still open, say): waiting for requests no longer
   * keeps the event loop alive. Requests are still served while the process
   * runs; at its exit the connection is aborted, as for every live mount.
   */
  unref(): void;
}

// ---------------------------------------------------------------------------
// The process's privileges, from /proc (never a mounted path)

/**
 * Whether this process holds CAP_SYS_ADMIN (in its user namespace), and so
 * mounts with mount(2) under mountMethod `auto`; without it, fusermount3 mounts.
 */
export function canMountDirectly(): boolean {
  return hasCapSysAdmin();
}

// ---------------------------------------------------------------------------
// Mountpoint checks (asynchronous: the path may lie inside a mount this thread serves)

/** The live mounts of this process, by mountpoint. */
const liveMounts = new Map<string, MountHandle>();

function abortEveryLiveMount(): void {
  for (const m of liveMounts.values()) m.abortNow();
}

/** Whether an 'exit' listener aborts the live mounts (see `MountHandle.abortNow`): on while any is live, and only then. */
function abortLiveMountsAtExit(on: boolean): void {
  const listening = process.listeners('exit').includes(abortEveryLiveMount);
  if (on && !listening) process.on('exit', abortEveryLiveMount);
  else if (!on && listening) process.removeListener('exit', abortEveryLiveMount);
}

function alreadyMounted(mountpoint: string): MountError {
  return new MountError(`mountpoint ${mountpoint} is already a mount of this process; unmount it first`, 'EBUSY');
}

function mountpointError(mountpoint: string, err: unknown): MountError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new MountError(`mountpoint ${mountpoint} does not exist`, code);
  if (code === 'ENOTDIR') return new MountError(`mountpoint ${mountpoint} is not a directory`, code);
  if (code === 'ENOTCONN') return new MountError(`mountpoint ${mountpoint} is a dead FUSE mount (run: fusekit umount ${mountpoint})`, code);
  if (code === 'EACCES') {
    const top = topMountAt(mountpoint);
    if (top && isFuseFsType(top.fsType)) {
      return new MountError(`mountpoint ${mountpoint} is another user's FUSE mount (${top.fsType}), which lets in only its owner; it cannot be mounted over`, code);
    }
  }
  return new MountError(`mountpoint ${mountpoint} cannot be used: ${(err as Error).message}`, code);
}

/**
 * Mountpoints a `mount()` of this process is busy with, in every spelling it
 * was given or resolved to: two calls racing for one mountpoint would both
 * mount, one on top of the other, and each take the top one for its own.
 */
const mountsStarting = new Set<string>();

function alreadyMounting(mountpoint: string): MountError {
  return new MountError(`mountpoint ${mountpoint} is being mounted by another mount() call of this process that has not finished; wait for it, or use another mountpoint`, 'EBUSY');
}

/**
 * The absolute, canonical mountpoint (as /proc/self/mountinfo will show it),
 * checked, and reserved in `mountsStarting` under each spelling (added to
 * `reserved` for the caller to give back).
 */
async function checkMountpoint(mountpoint: string, nonEmpty: boolean, reserved: string[]): Promise<string> {
  const absolute = path.resolve(mountpoint);
  if (liveMounts.has(absolute)) throw alreadyMounted(absolute);
  if (mountsStarting.has(absolute)) throw alreadyMounting(absolute);
  mountsStarting.add(absolute);
  reserved.push(absolute);
  let real: string;
  try {
    real = await fs.promises.realpath(absolute);
  } catch (err) {
    throw mountpointError(absolute, err);
  }
  if (liveMounts.has(real)) throw alreadyMounted(real);
  if (real !== absolute) {
    if (mountsStarting.has(real)) throw alreadyMounting(real);
    mountsStarting.add(real);
    reserved.push(real);
  }
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(real);
  } catch (err) {
    throw mountpointError(real, err);
  }
  if (!st.isDirectory()) throw new MountError(`mountpoint ${real} is not a directory`, 'ENOTDIR');
  // Another server's live FUSE mount there (a dead one failed the stat with
  // ENOTCONN) is almost always a second start by mistake: stacked on top, the
  // new one would hide it.
  const top = nonEmpty ? undefined : topMountAt(real);
  if (top && isFuseFsType(top.fsType)) {
    // fusermount3 checks the mountpoint as root, and another user's mount
    // without allow_other refuses root: for an ordinary user, stacking is no way out.
    const stack = process.getuid?.() === 0 ? ', or pass nonEmpty: true to mount() to mount over it' : '';
    throw new MountError(
      `mountpoint ${real} is already a FUSE mount (${top.fsType}, another process's); unmount it first (fusekit umount ${real})${stack}`,
      'EBUSY',
      'nonEmpty',
    );
  }
  if (!nonEmpty) {
    let occupied: boolean;
    try {
      const dir = await fs.promises.opendir(real);
      try {
        occupied = (await dir.read()) !== null;
      } finally {
        await dir.close();
      }
    } catch (err) {
      throw mountpointError(real, err);
    }
    if (occupied) {
      throw new MountError(`mountpoint ${real} is not empty (pass nonEmpty: true to mount() to mount over it)`, 'ENOTEMPTY', 'nonEmpty');
    }
  }
  return real;
}

// ---------------------------------------------------------------------------
// Unmounting, either way

/** fusermount3's path, looked up once per process. */
let fusermountPath: Promise<string | undefined> | undefined;
function fusermount(): Promise<string | undefined> {
  fusermountPath ??= findFusermount();
  return fusermountPath;
}

function missingFusermount(why: string, option?: keyof MountOptions): MountError {
  fusermountPath = undefined; // installed meanwhile? look again next time
  return new MountError(`${why} needs fusermount3, which is not installed (Debian and Ubuntu: apt install fuse3; Fedora: dnf install fuse3)`, 'ENOENT', option);
}

/**
 * Unmounts the FUSE mount at `mountpoint`, whoever serves it:
 * umount2(2) with CAP_SYS_ADMIN, `fusermount3 -u` (the caller's own mounts
 * only) otherwise; `lazy` detaches at once and lets busy users finish. Off
 * the calling thread, so it may name a mount this thread serves. Rejects with
 * a MountError (code EBUSY when busy and not lazy, EINVAL when nothing that
 * may be unmounted is there).
 */
export async function unmountAt(mountpoint: string, options: { lazy?: boolean } = {}): Promise<void> {
  mountpoint = path.resolve(mountpoint);
  const lazy = options.lazy ?? false;
  if (canMountDirectly()) {
    try {
      await umountSyscall(mountpoint, lazy);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EBUSY') throw new MountError(`${mountpoint} is busy`, code);
      throw new MountError(`cannot unmount ${mountpoint}: ${(err as Error).message}`, code);
    }
    return;
  }
  const program = await fusermount();
  if (!program) throw missingFusermount('unmounting as an ordinary user');
  try {
    await unmountWithFusermount(program, mountpoint, lazy);
  } catch (err) {
    throw new MountError((err as Error).message, (err as { code?: string }).code);
  }
}

/**
 * Aborts the FUSE connection mounted at `mountpoint` and detaches the mount,
 * whoever serves it (a mount of this process is aborted as its abort() does).
 * For dead mounts left by a process that died. Never rejects.
 */
export async function forceUnmount(mountpoint: string): Promise<void> {
  const absolute = path.resolve(mountpoint);
  const own = liveMounts.get(absolute);
  if (own) {
    await own.abort().catch(() => undefined);
    return;
  }
  const id = connectionIdOf(absolute);
  if (id !== undefined) abortConnection(id);
  await unmountAt(absolute, { lazy: true }).catch(() => undefined);
}

// ---------------------------------------------------------------------------
// The handle

class MountHandle implements FuseMount {
  readonly ended: Promise<ChannelEnd>;
  private aborting = false;

  constructor(
    readonly mountpoint: string,
    readonly session: Session,
    readonly info: InitInfo,
    readonly mountMethod: 'syscall' | 'fusermount',
    readonly autoUnmount: boolean,
    private readonly channel: FuseChannel,
    private readonly connectionId: number | undefined,
    sessionEnded: Promise<ChannelEnd>,
  ) {
    this.ended = sessionEnded.then((end) => (this.aborting || (end.reason === 'unmounted' && this.stillInMountTable()) ? { reason: 'aborted' } : end));
  }

  /**
   * Whether our connection is still in the mount table. An unmount takes it
   * out before the server's read sees ENODEV; the kernel's request timeout
   * aborts it in place, and the read sees the same ENODEV (that abort does
   * not give ECONNABORTED, even with ABORT_ERROR).
   */
  private stillInMountTable(): boolean {
    const id = this.connectionId;
    if (id === undefined) return false;
    try {
      return readMountInfo().some((e) => e.mountPoint === this.mountpoint && isFuseFsType(e.fsType) && e.minor === id);
    } catch {
      return false;
    }
  }

  /** Whether our connection is the top mount at the mountpoint; undefined when nothing FUSE is mounted there. */
  private ownsTop(): boolean | undefined {
    const top = connectionIdOf(this.mountpoint);
    if (top === undefined) return undefined;
    return this.connectionId === undefined || top === this.connectionId;
  }

  async unmount(options: { lazy?: boolean } = {}): Promise<ChannelEnd> {
    const owns = this.ownsTop();
    if (owns === false) {
      throw new MountError(`${this.mountpoint} is covered by another mount; unmount that first`, 'EBUSY');
    }
    if (owns) {
      try {
        await unmountAt(this.mountpoint, options);
      } catch (err) {
        // Unmounted from elsewhere meanwhile: the session ends by itself.
        if (!(err instanceof MountError && err.code === 'EINVAL' && this.ownsTop() !== true)) throw err;
      }
    }
    return this.ended;
  }

  unref(): void {
    this.channel.keepProcessAlive(false);
  }

  /**
   * At process exit: aborts the connection at once. The kernel closes the
   * exiting process's descriptors before it releases /dev/fuse, so a file
   * the process still had open on its own mount would send a FLUSH that
   * nobody is left to answer, and the exit would hang for good (SIGKILL
   * cannot end it).
   */
  abortNow(): void {
    this.aborting = true;
    if (this.connectionId !== undefined) abortConnection(this.connectionId);
    // Closing stops the event loop's watch too: a hang-up reported while
    // Node tears down would call into JavaScript that is gone.
    this.channel.close();
  }

  async abort(): Promise<ChannelEnd> {
    this.aborting = true;
    // fusectl aborts at once; without it (not mounted, or another user's
    // directory), closing the last descriptor of the connection aborts it too.
    if (this.connectionId === undefined || !abortConnection(this.connectionId)) this.channel.close();
    if (this.ownsTop()) await unmountAt(this.mountpoint, { lazy: true }).catch(() => undefined);
    return this.ended;
  }
}

// ---------------------------------------------------------------------------
// Signals

/** Mounts that asked for unmountOnSignal and have not ended. */
const signalMounts = new Set<MountHandle>();
let signalsSeen = 0;
// SIGHUP too, as libfuse: a foreground server whose terminal closes unmounts rather than dying with its mount in place.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function onSignal(sig: NodeJS.Signals): void {
  signalsSeen++;
  const mounts = [...signalMounts];
  if (signalsSeen > 1) {
    // Second signal: stop waiting for busy users.
    for (const m of mounts) void m.abort();
    return;
  }
  for (const m of mounts) {
    m.unmount().catch((err: unknown) => {
      if (err instanceof MountError && err.code === 'EBUSY') {
        (m.session.options.logger ?? stderrLogger).warn(`fusekit: ${m.mountpoint} is busy, detaching it; the session ends when the last file is closed (signal again to abort)`);
        return m.unmount({ lazy: true });
      }
      return m.abort();
    }).catch(() => m.abort());
  }
  void Promise.all(mounts.map((m) => m.ended)).then(() => {
    for (const s of SIGNALS) process.off(s, onSignal);
    // Re-raise only when nobody else listens: then the default action (the
    // process ends by the signal) is what would have happened without us.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

function unmountOnSignal(m: MountHandle): void {
  if (signalMounts.size === 0) {
    signalsSeen = 0;
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  signalMounts.add(m);
  void m.ended.then(() => {
    signalMounts.delete(m);
    // The last one ended without a signal: give the process its default behaviour back.
    if (signalMounts.size === 0 && signalsSeen === 0) for (const s of SIGNALS) process.off(s, onSignal);
  });
}

// ---------------------------------------------------------------------------
// mount()

/**
 * The smallest maxWrite: the kernel reads into buffers of at least 8 KiB
 * (40 + 40 + max_write bytes, or 8192), and the channel sizes its buffers
 * maxWrite + 4 KiB.
 */
const MIN_MAX_WRITE = 4096;

/**
 * The largest WRITE this kernel sends: max_pages_limit pages
 * (/proc/sys/fs/fuse/max_pages_limit, Linux 6.13+; 256 before, and the
 * protocol's max_pages field holds at most 65,535).
 */
function kernelMaxWrite(): number {
  let pages = 256;
  try {
    const n = Number(fs.readFileSync('/proc/sys/fs/fuse/max_pages_limit', 'utf8'));
    if (Number.isInteger(n) && n > 0) pages = Math.min(n, 0xffff);
  } catch {
    // Older kernels: their fixed limit.
  }
  return pages * 4096;
}

/** The options of `mount()` and `mountPaths()`, to catch one written with other capitals. */
const OPTION_NAMES = new Set([
  'allowOther', 'autoUnmount', 'defaultPermissions', 'dev', 'devicePath', 'flags', 'gid', 'initTimeoutMs', 'kernelRequestTimeout', 'logger',
  'maxBackground', 'maxLargeBuffers', 'maxRead', 'maxReadahead', 'maxWrite', 'mountMethod', 'nonEmpty', 'passthrough', 'readOnly', 'refuseFlags',
  'requestDeadlineMs', 'rootMode', 'rootPermissions', 'slowRequestMs', 'source', 'subtype', 'suid', 'uid', 'unmountOnSignal', 'wantFlags',
  'entryTimeout', 'attrTimeout', 'negativeTimeout', 'unlinkedOpen',
]);
const OPTION_NAMES_BY_LOWER_CASE = new Map([...OPTION_NAMES].map((k) => [k.toLowerCase(), k]));

const MOUNT_METHODS: readonly string[] = ['auto', 'syscall', 'fusermount'] satisfies MountMethod[];
const PASSTHROUGH_POLICIES: readonly string[] = ['auto', 'always', 'readonly', 'never'] satisfies PassthroughPolicy[];

/**
 * Refuses, before anything is mounted, arguments that would otherwise mount
 * and then fail at the first request (a missing filesystem) or be taken for
 * a default without a word (an unknown mount method or policy): JavaScript
 * callers get no type check.
 */
function checkArguments(mountpoint: unknown, filesystem: unknown, o: unknown): void {
  checkArgumentShapes('mount()', 'Filesystem', mountpoint, filesystem, o);
  const opts = o as MountOptions;
  if (opts.mountMethod !== undefined && !MOUNT_METHODS.includes(opts.mountMethod)) {
    throw new MountError(`mountMethod must be one of ${MOUNT_METHODS.join(', ')}, not ${describeValue(opts.mountMethod)}`, 'EINVAL', 'mountMethod');
  }
  const pt = opts.passthrough as unknown;
  if (pt !== undefined && (typeof pt !== 'object' || pt === null)) {
    throw new MountError(`passthrough must be an object such as { policy: 'auto' }, not ${describeValue(pt)}`, 'EINVAL', 'passthrough');
  }
  const policy = (pt as { policy?: unknown } | undefined)?.policy;
  if (policy !== undefined && !PASSTHROUGH_POLICIES.includes(policy as string)) {
    throw new MountError(`passthrough.policy must be one of ${PASSTHROUGH_POLICIES.join(', ')}, not ${describeValue(policy)}`, 'EINVAL', 'passthrough');
  }
  for (const key of ['requestDeadlineMs', 'slowRequestMs', 'initTimeoutMs', 'kernelRequestTimeout'] as const) {
    const v = opts[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new MountError(`${key} must be a number of 0 or more, not ${describeValue(v)}`, 'EINVAL', key);
    }
  }
  // An option spelled with other capitals (readonly for readOnly) would be ignored without a word.
  for (const key of Object.keys(opts)) {
    if (OPTION_NAMES.has(key)) continue;
    const meant = OPTION_NAMES_BY_LOWER_CASE.get(key.toLowerCase());
    if (meant) throw new MountError(`unknown option ${key}: did you mean ${meant}?`, 'EINVAL', meant as keyof MountOptions);
  }
  // Byte and request counts the kernel takes as whole numbers.
  for (const [key, least] of [['maxWrite', MIN_MAX_WRITE], ['maxRead', 0], ['maxReadahead', 0], ['maxBackground', 0], ['maxLargeBuffers', 1]] as const) {
    const v = opts[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= least)) {
      throw new MountError(`${key} must be a whole number of ${least} or more, not ${describeValue(v)}`, 'EINVAL', key);
    }
  }
}

/**
 * The checks every mounting call makes first: a mountpoint path, a
 * filesystem object (with the methods of `fsInterface`) and an options
 * object, named after `call` in the error. @internal
 */
export function checkArgumentShapes(call: string, fsInterface: string, mountpoint: unknown, filesystem: unknown, options: unknown): void {
  if (typeof mountpoint !== 'string' || mountpoint === '') {
    throw new MountError(`${call} needs the mountpoint as a path (a non-empty string), not ${describeValue(mountpoint)}`, 'EINVAL');
  }
  if (typeof filesystem !== 'object' || filesystem === null) {
    throw new MountError(`${call} needs a filesystem: an object with the ${fsInterface} methods it implements (an empty object answers ENOSYS to everything), not ${describeValue(filesystem)}`, 'EINVAL');
  }
  if (typeof options !== 'object' || options === null) throw new MountError(`${call} options must be an object (or left out), not ${describeValue(options)}`, 'EINVAL');
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v;
}

function chooseMethod(o: MountOptions): 'syscall' | 'fusermount' {
  const method = o.mountMethod ?? 'auto';
  if (method === 'syscall') {
    if (o.autoUnmount) throw new MountError("autoUnmount works through fusermount3, so it cannot be combined with mountMethod 'syscall'", 'EINVAL', 'autoUnmount');
    return 'syscall';
  }
  if (method === 'fusermount' || o.autoUnmount) return 'fusermount';
  return canMountDirectly() ? 'syscall' : 'fusermount';
}

/** The FUSE mount whose tree holds `target` (not at `target` itself), if any, from the mount table. */
function enclosingFuseMount(target: string): string | undefined {
  let best: { mountPoint: string; fsType: string } | undefined;
  for (const e of readMountInfo()) {
    if (e.mountPoint === target || !(e.mountPoint === '/' || target.startsWith(e.mountPoint + '/'))) continue;
    if (!best || e.mountPoint.length >= best.mountPoint.length) best = e;
  }
  return best?.fsType.startsWith('fuse') ? best.mountPoint : undefined;
}

/** Gets /dev/fuse mounted at `mountpoint` through fusermount3; returns the channel and the helper's handle. */
async function mountThroughFusermount(
  mountpoint: string,
  params: KernelMountParams,
  o: MountOptions,
  channelOptions: { maxWrite: number; maxLargeBuffers?: number },
): Promise<{ channel: FuseChannel; helper: FusermountMount }> {
  if (o.devicePath !== undefined) throw new MountError('devicePath cannot be used with fusermount3, which opens /dev/fuse itself', 'EINVAL', 'devicePath');
  const privileged = process.getuid?.() === 0;
  const program = await fusermount();
  if (!program) {
    throw privileged && o.autoUnmount ? missingFusermount('autoUnmount', 'autoUnmount') : missingFusermount(privileged ? "mountMethod 'fusermount'" : 'mounting as an ordinary user', privileged ? 'mountMethod' : undefined);
  }
  if (!privileged) {
    const why = await whyHelperCannotMount(program);
    if (why) throw new MountError(why, 'EPERM');
    // fusermount3 opens the device as the user.
    try {
      await fs.promises.access('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') throw new MountError('/dev/fuse does not exist: load the fuse module (modprobe fuse)', code);
      throw new MountError('/dev/fuse is not readable and writable by this user, and fusermount3 opens it as the user (it is usually mode 0666, as udev sets it)', code);
    }
  }
  const conf = privileged ? undefined : await readFuseConf();
  const { options, refused } = fusermountOptions(params, {
    privileged,
    userAllowOther: conf?.userAllowOther ?? true,
    autoUnmount: o.autoUnmount ?? false,
  });
  if (refused.length) throw new MountError(refused.join('; '), 'EPERM');
  let helper: FusermountMount;
  const before = connectionIdOf(mountpoint);
  try {
    helper = await mountWithFusermount(program, mountpoint, options, { autoUnmount: o.autoUnmount ?? false, timeoutMs: o.initTimeoutMs });
  } catch (err) {
    const code = (err as { code?: string }).code;
    // Given up on a helper that may still have mounted: its descriptor went
    // nowhere, so a new mount there is dead.
    const after = connectionIdOf(mountpoint);
    if (code === 'ETIMEDOUT' && after !== undefined && after !== before) await unmountAt(mountpoint, { lazy: true }).catch(() => undefined);
    const inside = code === 'EACCES' ? enclosingFuseMount(mountpoint) : undefined;
    const why = inside
      ? ` (it lies inside the FUSE mount at ${inside}, which lets in only its owner unless mounted with allow_other, and fusermount3 runs as root)`
      : '';
    throw new MountError((err as Error).message + why, code);
  }
  return { channel: FuseChannel.fromDescriptor(helper.fd, channelOptions), helper };
}

/** Opens /dev/fuse and mounts it at `mountpoint` with mount(2). */
async function mountWithSyscall(
  mountpoint: string,
  params: KernelMountParams,
  o: MountOptions,
  channelOptions: { maxWrite: number; maxLargeBuffers?: number },
): Promise<FuseChannel> {
  let channel: FuseChannel;
  try {
    channel = FuseChannel.open(channelOptions, o.devicePath);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const dev = o.devicePath ?? '/dev/fuse';
    if (code === 'ENOENT') throw new MountError(`${dev} does not exist: load the fuse module (modprobe fuse)`, code);
    throw new MountError(`cannot open ${dev}: ${(err as Error).message}`, code);
  }
  try {
    await mountFuse(channel.fd, mountpoint, params);
  } catch (err) {
    channel.close();
    const code = (err as { code?: string }).code;
    if (code === 'EPERM' && !canMountDirectly()) {
      throw new MountError(`mount on ${mountpoint} needs CAP_SYS_ADMIN (root); an ordinary user mounts through fusermount3 (mountMethod 'auto' or 'fusermount')`, code, 'mountMethod');
    }
    throw new MountError(`mount on ${mountpoint} failed: ${(err as Error).message}`, code);
  }
  return channel;
}

/**
 * Mounts `filesystem` at `mountpoint` (a directory; a relative path is
 * resolved against the working directory) and resolves once the kernel's
 * INIT has been answered. Rejects with a MountError, leaving nothing mounted.
 *
 * Until the handle's `unmount()` (or an unmount from outside) the process
 * keeps running. Unless `unmountOnSignal` or `autoUnmount` is given, a
 * process that is killed while mounted leaves a dead mount behind (see
 * `MountOptions.autoUnmount`).
 */
export async function mount(mountpoint: string, filesystem: Filesystem, options: MountOptions = {}): Promise<FuseMount> {
  checkArguments(mountpoint, filesystem, options);
  const reserved: string[] = [];
  try {
    return await mountReserving(mountpoint, filesystem, options, reserved);
  } finally {
    for (const p of reserved) mountsStarting.delete(p);
  }
}

/** `mount()` once its arguments are checked; the mountpoint's spellings go in `reserved` (see `mountsStarting`). */
async function mountReserving(mountpoint: string, filesystem: Filesystem, options: MountOptions, reserved: string[]): Promise<FuseMount> {
  const o = options;
  const method = chooseMethod(o);
  if (o.passthrough?.policy === 'always' && !mayRegisterBackingFiles()) {
    throw new MountError(
      "passthrough policy 'always' needs CAP_SYS_ADMIN in the initial user namespace (to register backing files), which this process lacks; with policy 'auto' file data goes through the server instead",
      'EPERM',
      'passthrough',
    );
  }
  const target = await checkMountpoint(mountpoint, o.nonEmpty ?? false, reserved);
  const refused = filesystem.mountpointProblem?.(target);
  if (refused) throw new MountError(refused, 'EINVAL');
  // Past the kernel's limit the read buffers would only waste memory, and InitInfo.maxWrite would promise WRITEs that never come.
  const maxWrite = Math.min(o.maxWrite ?? 1 << 20, kernelMaxWrite());
  const channelOptions = { maxWrite, maxLargeBuffers: o.maxLargeBuffers };
  const params: KernelMountParams = {
    source: o.source ?? 'fusekit',
    subtype: o.subtype ?? 'fusekit',
    rootMode: 0o040000 | (o.rootPermissions ?? 0o755),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    allowOther: o.allowOther,
    defaultPermissions: o.defaultPermissions,
    readOnly: o.readOnly,
    maxRead: o.maxRead,
    flags: o.flags,
    suid: o.suid,
    dev: o.dev,
  };

  let channel: FuseChannel;
  let helper: FusermountMount | undefined;
  if (method === 'fusermount') {
    ({ channel, helper } = await mountThroughFusermount(target, params, o, channelOptions));
  } else {
    channel = await mountWithSyscall(target, params, o, channelOptions);
  }
  const connectionId = connectionIdOf(target);

  const session = new Session(filesystem, channel, { ...o, maxWrite });
  session.start();
  const sessionEnded = session.ended.then((end) => {
    channel.close();
    // With auto_unmount the helper now looks once more and exits.
    helper?.release();
    return end;
  });
  let info: InitInfo;
  try {
    info = await Promise.race([
      session.ready.catch((err: Error & { code?: string }) => { throw new MountError(`INIT failed: ${err.message}`, err.code); }),
      sessionEnded.then((end) => { throw new MountError(`the connection ended during INIT (${end.reason})`); }),
      new Promise<never>((_, reject) => {
        const ms = o.initTimeoutMs ?? 10_000;
        const late = () =>
          session.initInFilesystem
            ? new MountError(`the filesystem's init() did not settle within ${ms} ms (initTimeoutMs): INIT waits for it`, 'ETIMEDOUT', 'initTimeoutMs')
            : new MountError(`the kernel did not complete INIT within ${ms} ms (initTimeoutMs)`, 'ETIMEDOUT', 'initTimeoutMs');
        const t = setTimeout(() => reject(late()), ms);
        session.ready.finally(() => clearTimeout(t)).catch(() => undefined);
        sessionEnded.finally(() => clearTimeout(t)).catch(() => undefined);
      }),
    ]);
  } catch (err) {
    if (connectionId === undefined || !abortConnection(connectionId)) channel.close();
    await unmountAt(target, { lazy: true }).catch(() => undefined);
    await Promise.race([sessionEnded, new Promise((r) => setTimeout(r, 2000))]);
    throw err;
  }
  const handle = new MountHandle(target, session, info, method, helper?.autoUnmount ?? false, channel, connectionId, sessionEnded);
  liveMounts.set(target, handle);
  abortLiveMountsAtExit(true);
  void handle.ended.then(() => {
    if (liveMounts.get(target) === handle) liveMounts.delete(target);
    abortLiveMountsAtExit(liveMounts.size > 0);
  });
  if (o.unmountOnSignal) unmountOnSignal(handle);
  return handle;
}
