/**
 * Mounting without CAP_SYS_ADMIN, through libfuse's set-user-ID helper
 * `fusermount3` (Debian and Ubuntu package `fuse3`), as libfuse, go-fuse and
 * fuser do. No libfuse library is involved; only the helper program.
 *
 * The protocol: this process makes a UNIX socket pair and starts
 * `fusermount3 -o OPTIONS -- MOUNTPOINT` with one end as a descriptor whose
 * number is in the environment variable `_FUSE_COMMFD`. The helper opens
 * /dev/fuse, checks that the user may mount there (writes the directory, is
 * under the user's `mount_max`, asks only for options an ordinary user may
 * have), calls mount(2) as root, and sends the /dev/fuse descriptor back as
 * an SCM_RIGHTS control message with one data byte. If it fails it prints
 * why on stderr and exits, so this end reads end-of-file instead.
 *
 * With `auto_unmount` the helper does not exit: it detaches into its own
 * session, keeps its end of the socket and waits. When this end closes (the
 * server released it, or died, SIGKILL included, and the kernel closed it)
 * it looks at the mountpoint, and if the mount is still there but its
 * connection is dead (ENOTCONN), detaches it. This works for root as well.
 * Before fusermount3 3.15 (Debian 12 has 3.14) it looks as root, which a
 * mount without allow_other refuses (EACCES), and so never detaches an
 * ordinary user's mount; for users a small watcher (startDeathWatch) does
 * the same check as the user and runs `fusermount3 -u -z`.
 *
 * Unmounting as an ordinary user is `fusermount3 -u [-z] -- MOUNTPOINT`.
 *
 * Everything here waits asynchronously (the socket is watched by the event
 * loop, the helper is a child process), so the thread that serves other
 * mounts of this process keeps serving them, even when the new mountpoint
 * lies inside one of them and the helper's path lookups reach this process.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  socketpair,
  recvmsg,
  setNonBlocking,
  isCloseOnExec,
  fcntl,
  tryClose,
  watchReadable,
  AF_UNIX,
  SOCK_STREAM,
  SOCK_CLOEXEC,
  MSG_DONTWAIT,
  MSG_CMSG_CLOEXEC,
  F_SETFD,
  FD_CLOEXEC,
} from '../sys/index.js';
import type { ReceivedMessage } from '../sys/index.js';
import {
  MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_NOATIME, MS_DIRSYNC,
  MS_MANDLOCK, MS_NOSYMFOLLOW, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME, MS_LAZYTIME,
} from '../sys/constants.js';
import type { KernelMountParams } from './mount.js';

/** The helper's name, looked up in PATH. */
export const FUSERMOUNT = 'fusermount3';
/** The environment variable that tells the helper which descriptor is its end of the socket. */
const COMMFD_ENV = '_FUSE_COMMFD';
/** The descriptor number the helper's end gets in the child (after stdin, stdout, stderr). */
const CHILD_COMMFD = 3;
const S_ISUID = 0o4000;

/** A failure of the helper or of the exchange with it, as one sentence; `code` is an errno name where one fits. */
export class FusermountError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'FusermountError';
  }
}

// ---------------------------------------------------------------------------
// Finding the helper and its configuration

/**
 * The path of fusermount3 as execvp would find it in `PATH`, or undefined.
 * Asynchronous: a directory in PATH may lie inside a mount of this process.
 */
export async function findFusermount(searchPath = process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin'): Promise<string | undefined> {
  for (const dir of searchPath.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, FUSERMOUNT);
    try {
      await fs.promises.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why `program` cannot mount for an ordinary user, or undefined: it must be
 * set-user-ID root, or mount(2) inside it fails with EPERM.
 */
export async function whyHelperCannotMount(program: string): Promise<string | undefined> {
  const st = await fs.promises.stat(program);
  if (st.uid === 0 && (st.mode & S_ISUID) !== 0) return undefined;
  return `${program} is not set-user-ID root, so it cannot mount for an ordinary user (reinstall the fuse3 package)`;
}

/** The parts of /etc/fuse.conf that decide what fusermount3 allows an ordinary user. */
export interface FuseConf {
  /** `user_allow_other`: users may mount with allow_other. */
  userAllowOther: boolean;
  /** `mount_max = N`: how many FUSE mounts the system may hold before fusermount3 refuses users (default 1000). */
  mountMax: number;
}

/** Parses fuse.conf as fusermount3 does: `#` starts a comment, one setting per line. */
export function parseFuseConf(text: string): FuseConf {
  const conf: FuseConf = { userAllowOther: false, mountMax: 1000 };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === 'user_allow_other') conf.userAllowOther = true;
    const m = /^mount_max = (-?\d+)/.exec(line);
    if (m) conf.mountMax = Number(m[1]);
  }
  return conf;
}

/** Reads /etc/fuse.conf (a missing file means the defaults). */
export async function readFuseConf(file = '/etc/fuse.conf'): Promise<FuseConf> {
  try {
    return parseFuseConf(await fs.promises.readFile(file, 'utf8'));
  } catch {
    return parseFuseConf('');
  }
}

// ---------------------------------------------------------------------------
// Options

/** Mount flags fusermount3 (3.14 and later) takes as options, by name. */
const FLAG_OPTIONS: [flag: number, option: string][] = [
  [MS_RDONLY, 'ro'],
  [MS_NOSUID, 'nosuid'],
  [MS_NODEV, 'nodev'],
  [MS_NOEXEC, 'noexec'],
  [MS_SYNCHRONOUS, 'sync'],
  [MS_NOATIME, 'noatime'],
  [MS_DIRSYNC, 'dirsync'],
];

/** Names for the flags it does not take, for the sentence that refuses them. */
const FLAG_NAMES: [flag: number, name: string][] = [
  [MS_MANDLOCK, 'MS_MANDLOCK'],
  [MS_NOSYMFOLLOW, 'MS_NOSYMFOLLOW'],
  [MS_NODIRATIME, 'MS_NODIRATIME'],
  [MS_RELATIME, 'MS_RELATIME'],
  [MS_STRICTATIME, 'MS_STRICTATIME'],
  [MS_LAZYTIME, 'MS_LAZYTIME'],
];

/** What fusermount3 will be asked for, and what it would refuse. */
export interface FusermountOptions {
  /** The `-o` options, ready to join with commas. */
  options: string[];
  /** One sentence per option an ordinary user may not have (empty when all are fine). */
  refused: string[];
}

/** Escapes a value for fsname=/subtype=, which fusermount3 reads with backslash escapes. */
function escapeValue(v: string): string {
  return v.replace(/[\\,]/g, (c) => `\\${c}`);
}

/**
 * Turns kernel mount parameters into fusermount3 options. Unless
 * `privileged` (the helper then runs for root and takes everything), the
 * options an ordinary user may not have come back as sentences in `refused`
 * instead of being passed on: fusermount3 would refuse some with a terse
 * message and silently drop others (suid, dev). rootMode, uid and gid are
 * not options: the helper sets them itself from the mountpoint and the
 * caller.
 */
export function fusermountOptions(
  p: KernelMountParams,
  ctx: { privileged: boolean; userAllowOther: boolean; autoUnmount: boolean },
): FusermountOptions {
  const options: string[] = [`fsname=${escapeValue(p.source)}`, `subtype=${escapeValue(p.subtype)}`];
  const refused: string[] = [];
  if (p.readOnly) options.push('ro');
  if (p.suid) {
    if (ctx.privileged) options.push('suid');
    else refused.push('suid is not possible for an ordinary user: fusermount3 always mounts nosuid for users');
  }
  if (p.dev) {
    if (ctx.privileged) options.push('dev');
    else refused.push('dev is not possible for an ordinary user: fusermount3 always mounts nodev for users');
  }
  if (p.allowOther) {
    if (ctx.privileged || ctx.userAllowOther) options.push('allow_other');
    else refused.push('allow_other needs user_allow_other in /etc/fuse.conf');
  }
  if (p.defaultPermissions) options.push('default_permissions');
  if (p.maxRead) options.push(`max_read=${p.maxRead}`);
  let rest = p.flags ?? 0;
  for (const [flag, option] of FLAG_OPTIONS) {
    if (rest & flag) {
      if (!options.includes(option)) options.push(option);
      rest &= ~flag;
    }
  }
  if (rest) {
    const names = FLAG_NAMES.filter(([f]) => rest & f).map(([, n]) => n);
    for (const [f] of FLAG_NAMES) rest &= ~f;
    if (rest) names.push(`0x${rest.toString(16)}`);
    refused.push(`mount flag${names.length > 1 ? 's' : ''} ${names.join(', ')} cannot be passed through fusermount3`);
  }
  if (ctx.autoUnmount) options.push('auto_unmount');
  return { options, refused };
}

// ---------------------------------------------------------------------------
// The helper's messages, as sentences

const MOUNT_FAILURES: [RegExp, (m: RegExpExecArray, mountpoint: string) => string, string][] = [
  [/only allowed if 'user_allow_other' is set/, () => 'allow_other needs user_allow_other in /etc/fuse.conf', 'EPERM'],
  [/too many FUSE filesystems mounted/, () => 'the system has reached the number of FUSE mounts fusermount3 allows ordinary users (mount_max in /etc/fuse.conf)', 'EMFILE'],
  [/user has no write access to mountpoint/, (_, mp) => `mountpoint ${mp} is not writable by this user, and fusermount3 mounts only where the user may write`, 'EACCES'],
  [/mountpoint .* not owned by user/, (_, mp) => `mountpoint ${mp} is sticky and belongs to another user, so fusermount3 will not mount on it`, 'EACCES'],
  [/failed to chdir to mountpoint: (.*)/, (m, mp) => `mountpoint ${mp} cannot be entered: ${m[1]}`, 'EACCES'],
  [/failed to access mountpoint [^:]*: (.*)/, (m, mp) => `mountpoint ${mp} cannot be used: ${m[1]}`, 'EACCES'],
  [/mounting over filesystem type (\S+) is forbidden/, (m, mp) => `fusermount3 does not let an ordinary user mount over ${mp}'s filesystem type (${m[1]})`, 'EPERM'],
  [/fuse device not found/, () => '/dev/fuse does not exist: load the fuse module (modprobe fuse)', 'ENOENT'],
  [/failed to open \/dev\/fuse: (.*)/, (m) => `fusermount3 cannot open /dev/fuse: ${m[1]}`, 'EACCES'],
  [/unknown option '([^']*)'/, (m) => `fusermount3 does not accept the mount option ${m[1]}`, 'EINVAL'],
  [/mount failed: (.*)/, (m, mp) => `mount on ${mp} failed in fusermount3: ${m[1]}`, 'EIO'],
];

/** One sentence for a failed `fusermount3` mount, from what it printed. */
export function explainMountFailure(stderr: string, mountpoint: string): FusermountError {
  for (const [re, say, code] of MOUNT_FAILURES) {
    const m = re.exec(stderr);
    if (m) return new FusermountError(say(m, mountpoint), code);
  }
  const first = stderr.split('\n').map((l) => l.trim()).find((l) => l !== '');
  return new FusermountError(first ? `fusermount3 failed: ${first.replace(/^[^:]*fusermount3?: /, '')}` : 'fusermount3 failed without saying why', 'EIO');
}

/** One sentence (and errno name) for a failed `fusermount3 -u`. */
export function explainUnmountFailure(stderr: string, mountpoint: string): FusermountError {
  if (/Device or resource busy/.test(stderr)) return new FusermountError(`${mountpoint} is busy`, 'EBUSY');
  if (/entry for .* not found in|not mounted/.test(stderr)) return new FusermountError(`${mountpoint} is not a FUSE mount of this user`, 'EINVAL');
  const first = stderr.split('\n').map((l) => l.trim()).find((l) => l !== '');
  return new FusermountError(`cannot unmount ${mountpoint}: ${first?.replace(/^[^:]*fusermount3?: /, '') ?? 'fusermount3 failed without saying why'}`, 'EIO');
}

// ---------------------------------------------------------------------------
// Mounting

/** A mount made by fusermount3. */
export interface FusermountMount {
  /** The /dev/fuse descriptor: close-on-exec and non-blocking. The caller owns it. */
  readonly fd: number;
  /** Whether the helper stays to unmount a dead mount (auto_unmount). */
  readonly autoUnmount: boolean;
  /**
   * Ends the exchange with the helper: with auto_unmount, closes this end of
   * the socket (and the death watch's, for a user), so the helper detaches
   * the mount if it is still there with a dead connection, and exits.
   * Idempotent.
   */
  release(): void;
}

/** What one message on the socket means. */
export function checkReceived(msg: ReceivedMessage): { fd: number } | { error: string } {
  const closeAll = () => { for (const f of msg.fds) tryClose(f); };
  if (msg.truncated) {
    closeAll();
    return { error: 'the descriptor from fusermount3 arrived in a truncated control message (descriptors were lost)' };
  }
  if (msg.fds.length !== 1 || msg.otherControl.length > 0) {
    closeAll();
    return { error: `fusermount3 sent ${msg.fds.length} descriptors${msg.otherControl.length ? ' and other control messages' : ''} instead of one` };
  }
  return { fd: msg.fds[0]! };
}

/**
 * A backstop for auto_unmount as an ordinary user: a shell in its own session
 * (so a Ctrl-C to this process's group does not reach it) that reads a socket
 * only this process holds. When that socket reaches end of file (released,
 * or this process died and the kernel closed it), it asks for the
 * mountpoint's statfs as the user: a dead connection fails (ENOTCONN) and
 * then `fusermount3 -u -z` detaches it; an unmounted directory or a live
 * mount is left alone.
 * fusermount3 -u itself only ever unmounts the user's own FUSE mounts.
 */
export function startDeathWatch(program: string, mountpoint: string): { release(): void } {
  const [ours, theirs] = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  try {
    // statfs, not stat: the kernel answers a stat of the mount's root from its
    // attribute cache even after the connection died, but always asks the
    // server for STATFS, which a dead connection fails (ENOTCONN).
    const script = 'while read -r _; do :; done; stat -f -- "$1" >/dev/null 2>&1 || exec "$2" -u -z -- "$1"';
    const child = spawn('/bin/sh', ['-c', script, 'fusekit-unmount-watch', mountpoint, program], {
      stdio: [theirs, 'ignore', 'ignore'],
      detached: true,
    });
    child.on('error', () => undefined);
    child.unref();
  } catch (err) {
    tryClose(ours);
    throw err;
  } finally {
    tryClose(theirs);
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      tryClose(ours);
    },
  };
}

/**
 * Runs `program` to mount at `mountpoint` (absolute) with `options`, and
 * resolves with the /dev/fuse descriptor it sends. Rejects with a
 * FusermountError whose message is one sentence; nothing is then mounted.
 */
export function mountWithFusermount(
  program: string,
  mountpoint: string,
  options: readonly string[],
  opts: { autoUnmount: boolean; timeoutMs?: number },
): Promise<FusermountMount> {
  const [ours, theirs] = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  let child: ChildProcess;
  try {
    const args = [...(options.length ? ['-o', options.join(',')] : []), '--', mountpoint];
    child = spawn(program, args, {
      // The helper's end becomes descriptor 3 in the child (without close-on-exec).
      stdio: ['ignore', 'ignore', 'pipe', theirs],
      env: { ...process.env, [COMMFD_ENV]: String(CHILD_COMMFD) },
    });
  } catch (err) {
    tryClose(ours);
    tryClose(theirs);
    return Promise.reject(new FusermountError(`cannot run ${program}: ${(err as Error).message}`, (err as { code?: string }).code));
  }
  tryClose(theirs);

  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => { if (stderr.length < 16384) stderr += s; });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  return new Promise<FusermountMount>((resolve, reject) => {
    let watch: ReturnType<typeof watchReadable> | undefined;
    let settled = false;
    let released = false;
    const finish = (result: { fd: number } | { error: FusermountError }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      watch?.close();
      if ('error' in result) {
        tryClose(ours);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(result.error);
        return;
      }
      const fd = result.fd;
      try {
        // Received with MSG_CMSG_CLOEXEC; make sure, since a leaked copy in
        // another child would keep the connection alive after this process.
        if (!isCloseOnExec(fd)) fcntl(fd, F_SETFD, FD_CLOEXEC);
        // The helper opened the device blocking; the channel reads it non-blocking.
        setNonBlocking(fd, true);
      } catch (err) {
        tryClose(fd);
        tryClose(ours);
        reject(new FusermountError(`the descriptor from fusermount3 cannot be used: ${(err as Error).message}`));
        return;
      }
      // The helper must never keep this process alive, nor its stderr pipe.
      child.unref();
      child.stderr!.destroy();
      if (!opts.autoUnmount) {
        // It has mounted and exits now; nothing more to say to it.
        tryClose(ours);
        released = true;
      }
      let deathWatch: { release(): void } | undefined;
      if (opts.autoUnmount && process.getuid?.() !== 0) {
        try {
          deathWatch = startDeathWatch(program, mountpoint);
        } catch {
          // fusermount3's own watch remains (complete from 3.15 on).
        }
      }
      resolve({
        fd,
        autoUnmount: opts.autoUnmount,
        release() {
          deathWatch?.release();
          if (released) return;
          released = true;
          tryClose(ours);
        },
      });
    };

    const onReadable = () => {
      let msg: ReceivedMessage | undefined;
      try {
        msg = recvmsg(ours, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, 1);
      } catch (err) {
        finish({ error: new FusermountError(`receiving the descriptor from fusermount3 failed: ${(err as Error).message}`) });
        return;
      }
      if (!msg) return; // spurious wake-up
      if (msg.bytes === 0 && msg.fds.length === 0) {
        // End of file: the helper failed and said why on stderr (read all of it first).
        watch?.close();
        watch = undefined;
        void Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]).then(() => finish({ error: explainMountFailure(stderr, mountpoint) }));
        return;
      }
      const r = checkReceived(msg);
      finish('fd' in r ? r : { error: new FusermountError(r.error, 'EPROTO') });
    };

    const timeoutMs = opts.timeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      finish({ error: new FusermountError(`fusermount3 did not mount within ${timeoutMs / 1000} s${stderr ? `: ${stderr.trim().split('\n')[0]}` : ''}`, 'ETIMEDOUT') });
    }, timeoutMs);
    child.once('error', (err) => {
      finish({ error: new FusermountError(`cannot run ${program}: ${err.message}`, (err as { code?: string }).code) });
    });
    try {
      watch = watchReadable(ours, onReadable);
    } catch (err) {
      finish({ error: new FusermountError(`cannot watch the socket to fusermount3: ${(err as Error).message}`) });
    }
  });
}

/**
 * `fusermount3 -u [-z] -- mountpoint`: unmounts a mount of the calling user.
 * Rejects with a FusermountError (code EBUSY when the mount is in use and not
 * `lazy`, EINVAL when it is not a FUSE mount of this user).
 */
export async function unmountWithFusermount(program: string, mountpoint: string, lazy: boolean, timeoutMs = 10_000): Promise<void> {
  const child = spawn(program, ['-u', ...(lazy ? ['-z'] : []), '--', mountpoint], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => { if (stderr.length < 16384) stderr += s; });
  const result = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve({ code: null, error: new Error(`no answer within ${timeoutMs / 1000} s`) }); }, timeoutMs);
    child.once('error', (error) => { clearTimeout(timer); resolve({ code: null, error }); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code }); });
  });
  if (result.error) throw new FusermountError(`cannot run ${program} -u: ${result.error.message}`, (result.error as { code?: string }).code);
  if (result.code !== 0) throw explainUnmountFailure(stderr, mountpoint);
}
