/**
 * `mount()`: the one call that turns a Filesystem object into a mounted
 * filesystem: checks the mountpoint, opens the device, mounts, negotiates, and
 * returns a handle to unmount it. Every failure is a MountError with one clear
 * sentence, and leaves nothing mounted.
 */
import * as fs from 'node:fs';
import { FuseChannel } from '../transport/channel.js';
import type { ChannelEnd } from '../transport/channel.js';
import { mountFuse, unmount as umountTarget, connectionIdOf, abortConnection, isMounted } from '../transport/mount.js';
import type { MountOptions } from '../transport/mount.js';
import { Session } from './session.js';
import type { SessionOptions } from './session.js';
import type { Filesystem, InitInfo } from '../fs/filesystem.js';
import { geteuid } from '../sys/index.js';

export class MountError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'MountError';
  }
}

export interface MountConfig extends SessionOptions, Partial<Omit<MountOptions, 'rootMode' | 'uid' | 'gid'>> {
  /** Allow mounting over a non-empty directory. */
  nonEmpty?: boolean;
  /** Permission bits of the root directory as the kernel first sees them (default 0o755). */
  rootPermissions?: number;
  /** Device to open (default /dev/fuse). */
  devicePath?: string;
  /** How long to wait for the kernel's INIT after mounting (default 10 s). */
  initTimeoutMs?: number;
  /**
   * Full-size read buffers (maxWrite + 4 KiB each) that requests in flight may
   * hold, which bounds the memory slow WRITE handlers can pin; reading pauses
   * while all are taken (default 256).
   */
  maxLargeBuffers?: number;
}

export interface FuseMount {
  readonly mountpoint: string;
  readonly session: Session;
  readonly info: InitInfo;
  /** Resolves when the connection ends (unmounted from anywhere, or aborted). */
  readonly ended: Promise<ChannelEnd>;
  /** Unmounts; with `lazy`, detaches at once and lets busy users finish. Resolves when the session has ended. */
  unmount(options?: { lazy?: boolean }): Promise<ChannelEnd>;
  /** Aborts the connection (every pending and future request fails), then detaches the mount. */
  abort(): Promise<ChannelEnd>;
}

function checkMountpoint(mountpoint: string, nonEmpty: boolean): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(mountpoint);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MountError(`mountpoint ${mountpoint} does not exist`, code);
    if (code === 'ENOTCONN') throw new MountError(`mountpoint ${mountpoint} is a dead FUSE mount (run: fusekit umount ${mountpoint})`, code);
    throw new MountError(`mountpoint ${mountpoint} cannot be used: ${(err as Error).message}`, code);
  }
  if (!st.isDirectory()) throw new MountError(`mountpoint ${mountpoint} is not a directory`, 'ENOTDIR');
  if (!nonEmpty && fs.readdirSync(mountpoint).length > 0) {
    throw new MountError(`mountpoint ${mountpoint} is not empty (use -o nonempty to mount over it)`, 'ENOTEMPTY');
  }
}

export async function mount(mountpoint: string, filesystem: Filesystem, config: MountConfig = {}): Promise<FuseMount> {
  if (geteuid() !== 0) {
    throw new MountError('fusekit must run as root: unprivileged mounting (through fusermount3) is not supported yet', 'EPERM');
  }
  checkMountpoint(mountpoint, config.nonEmpty ?? false);
  const maxWrite = config.maxWrite ?? 1 << 20;
  let channel: FuseChannel;
  try {
    channel = FuseChannel.open({ maxWrite, maxLargeBuffers: config.maxLargeBuffers }, config.devicePath);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const dev = config.devicePath ?? '/dev/fuse';
    if (code === 'ENOENT') throw new MountError(`${dev} does not exist: load the fuse module (modprobe fuse)`, code);
    throw new MountError(`cannot open ${dev}: ${(err as Error).message}`, code);
  }
  try {
    mountFuse(channel.fd, mountpoint, {
      source: config.source ?? 'fusekit',
      subtype: config.subtype ?? 'fusekit',
      rootMode: 0o040000 | (config.rootPermissions ?? 0o755),
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      allowOther: config.allowOther,
      defaultPermissions: config.defaultPermissions,
      readOnly: config.readOnly,
      maxRead: config.maxRead,
      flags: config.flags,
      suid: config.suid,
      dev: config.dev,
    });
  } catch (err) {
    channel.close();
    const code = (err as { code?: string }).code;
    throw new MountError(`mount on ${mountpoint} failed: ${(err as Error).message}`, code);
  }
  const session = new Session(filesystem, channel, { ...config, maxWrite });
  session.start();
  const ended = session.ended.then((end) => {
    channel.close();
    return end;
  });
  let info: InitInfo;
  try {
    info = await Promise.race([
      session.ready.catch((err: Error) => { throw new MountError(`INIT failed: ${err.message}`); }),
      ended.then((end) => { throw new MountError(`the connection ended during INIT (${end.reason})`); }),
      new Promise<never>((_, reject) => {
        const t = setTimeout(() => reject(new MountError('the kernel did not complete INIT in time')), config.initTimeoutMs ?? 10_000);
        session.ready.finally(() => clearTimeout(t));
        ended.finally(() => clearTimeout(t));
      }),
    ]);
  } catch (err) {
    forceUnmount(mountpoint);
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
    throw err;
  }
  const handle: FuseMount = {
    mountpoint,
    session,
    info,
    ended,
    async unmount(options = {}) {
      if (isMounted(mountpoint)) {
        try {
          umountTarget(mountpoint, options.lazy ?? false);
        } catch (err) {
          if ((err as { code?: string }).code !== 'EINVAL') throw err;
        }
      }
      return ended;
    },
    async abort() {
      forceUnmount(mountpoint);
      return ended;
    },
  };
  return handle;
}

/** Aborts the connection and detaches the mount; never throws. */
export function forceUnmount(mountpoint: string): void {
  const id = connectionIdOf(mountpoint);
  if (id !== undefined) abortConnection(id);
  try {
    umountTarget(mountpoint, true);
  } catch {
    // Already gone.
  }
}
