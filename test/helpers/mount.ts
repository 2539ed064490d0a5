/**
 * Helpers for real-mount tests of `fusekit mirror`.
 *
 * Every mount made here is served by a child process, so the test process may
 * use the mount freely; still, nothing here ever waits on the mount without a
 * deadline. On any failure the FUSE connection is aborted through fusectl
 * (which makes every pending and future request on it fail with ENOTCONN) and
 * the mountpoint is detached with `umount -l`, so no mount is left behind even
 * when the server hangs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isFuseFsType } from '../../src/transport/mount.js';
import { abortConnection, detachAllUnder, forceUnmount, mountAt } from './mounttable.js';
import { childEnv, collect, describeRun, run, type RunOptions, type RunResult } from './proc.js';
import { CLI } from './repo.js';
import { sleep, withTimeout } from './wait.js';

// ---------------------------------------------------------------------------
// Shared with the conformance runner and the bench (modules of their own,
// without side effects), re-exported so a test needs one import

export { CLI, REPO_ROOT } from './repo.js';
export { pollUntil, sleep, withTimeout } from './wait.js';
export { describeRun, fdCount, procStatus, run, type RunOptions, type RunResult } from './proc.js';
export { abortConnection, detachAllUnder, ensureFusectl, forceUnmount, fuseMounts, isMounted, mountAt, mountsUnder, type MountInfoEntry } from './mounttable.js';

// ---------------------------------------------------------------------------
// Small utilities

/** Hex SHA-256 of the bytes. */
export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------
// Running the CLI

/** Runs the fusekit CLI (not a mirror that stays up: use spawnMirror for that). */
export function runCli(args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], opts);
}

// ---------------------------------------------------------------------------
// Temp dirs

export interface TempDirs {
  /** Per-test root (canonical path); src and mnt live inside. */
  root: string;
  src: string;
  mnt: string;
  /** Unmounts anything under root, then removes it. Never throws. */
  cleanup(): void;
}

export function makeTempDirs(prefix = 'fusekit-test-'): TempDirs {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  const src = path.join(root, 'src');
  const mnt = path.join(root, 'mnt');
  fs.mkdirSync(src);
  fs.mkdirSync(mnt);
  return {
    root,
    src,
    mnt,
    cleanup() {
      try {
        // Never let rm walk into a mount.
        if (!detachAllUnder(root)) return;
        fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        /* best effort */
      }
    },
  };
}

// ---------------------------------------------------------------------------
// The mirror server

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** How long to wait for the mount to appear and answer stat (default 10 s). */
  readyTimeoutMs?: number;
  /** Extra environment variables for the server. */
  env?: NodeJS.ProcessEnv;
  /** Run the server under this umask (via /bin/sh; the test's own umask is unchanged). */
  umask?: number;
  /** Run the server with this descriptor limit, soft and hard (via /bin/sh's ulimit). */
  nofile?: number;
  /** Don't wait for the mount: resolve as soon as the process is spawned. */
  noWait?: boolean;
  /** Another server program taking the CLI's arguments (`PROGRAM mirror SRC MNT ...`); default the CLI. */
  program?: string;
  /** Capabilities the server runs without (dropped from its bounding set through setpriv), e.g. `['dac_read_search']`. */
  dropCapabilities?: readonly string[];
}

export interface MirrorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly src: string;
  readonly mnt: string;
  /** Everything the server wrote to stderr so far (capped). */
  stderr(): string;
  stdout(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  exitInfo(): ExitInfo | undefined;
  /** Waits up to `timeoutMs` for exit; undefined if it is still running. */
  waitExit(timeoutMs: number): Promise<ExitInfo | undefined>;
  /**
   * Sends `signal` (SIGTERM), waits up to 10 s for exit; if it doesn't, SIGKILLs
   * it and force-unmounts. Resolves with the exit code (null if killed by a signal).
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL now (no unmount). */
  kill(): void;
}

const live = new Set<MirrorProcess>();
const spawnedMounts = new Set<string>();

// Last-resort safety net: if the test process exits with a mirror still up.
process.once('exit', () => {
  for (const m of live) {
    try {
      m.child.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
  for (const mnt of spawnedMounts) forceUnmount(mnt);
});

const OUTPUT_CAP = 16 * 1024 * 1024;

/**
 * Starts `fusekit mirror SRC MNT ...args` and waits until MNT is mounted and
 * answers stat. Rejects (after killing the server and cleaning the mount) with
 * the collected stderr if the process exits first or the deadline passes.
 */
export async function spawnMirror(
  src: string,
  mnt: string,
  args: readonly string[] = [],
  opts: SpawnOptions = {},
): Promise<MirrorProcess> {
  const argv = [opts.program ?? CLI, 'mirror', src, mnt, ...args];
  const setup = [
    opts.umask === undefined ? '' : `umask ${opts.umask.toString(8).padStart(3, '0')}; `,
    opts.nofile === undefined ? '' : `ulimit -n ${opts.nofile}; `,
  ].join('');
  const drop = opts.dropCapabilities?.length ? `setpriv --bounding-set=${opts.dropCapabilities.map((c) => `-${c}`).join(',')} ` : '';
  const child = setup || drop
    ? spawn('/bin/sh', ['-c', `${setup}exec ${drop}"$0" "$@"`, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(opts.env) })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(opts.env) });

  const stderr = collect(child.stderr, OUTPUT_CAP);
  const stdout = collect(child.stdout, OUTPUT_CAP);

  let info: ExitInfo | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    child.once('error', (e) => {
      spawnError = e;
      info ??= { code: null, signal: null };
      resolve(info);
    });
  });
  // Wait for the pipes to drain too, so stderr is complete (bounded).
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const waitExit = async (timeoutMs: number): Promise<ExitInfo | undefined> => {
    if (info) return info;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (r) await Promise.race([closed, sleep(500)]);
    return r;
  };

  const m: MirrorProcess = {
    child,
    pid: child.pid ?? -1,
    src,
    mnt,
    stderr: () => stderr().toString('utf8'),
    stdout: () => stdout().toString('utf8'),
    exited,
    exitInfo: () => info,
    waitExit,
    kill() {
      if (!info) child.kill('SIGKILL');
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
      try {
        if (!info) {
          child.kill(signal);
          const r = await waitExit(timeoutMs);
          if (!r) {
            child.kill('SIGKILL');
            forceUnmount(mnt);
            await waitExit(5000);
            forceUnmount(mnt);
          }
        }
        return info?.code ?? null;
      } finally {
        if (info) live.delete(m);
      }
    },
  };
  live.add(m);
  spawnedMounts.add(path.resolve(mnt));
  void exited.then(() => {
    // Keep the registry for the exit hook only while the process lives.
    live.delete(m);
  });

  if (opts.noWait) return m;

  const timeoutMs = opts.readyTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const fail = async (why: string): Promise<never> => {
    m.kill();
    forceUnmount(mnt);
    await waitExit(5000);
    forceUnmount(mnt);
    const st = info ? ` (exit code ${info.code}, signal ${info.signal})` : '';
    throw new Error(`fusekit mirror did not become ready: ${why}${st}${spawnError ? `: ${spawnError.message}` : ''}\n--- stderr ---\n${m.stderr().slice(-8000)}`);
  };

  // 1. The mount shows up in the mount table.
  for (;;) {
    if (info) return fail('process exited before mounting');
    const e = mountAt(mnt);
    if (e && isFuseFsType(e.fsType)) break;
    if (Date.now() >= deadline) return fail(`${mnt} not in /proc/self/mountinfo after ${timeoutMs} ms`);
    await sleep(20);
  }
  // 2. The mount answers stat.
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return fail(`stat(${mnt}) did not answer within ${timeoutMs} ms`);
    try {
      await withTimeout(fs.promises.stat(mnt), left, `stat(${mnt})`);
      break;
    } catch (err) {
      if (info) return fail(`process exited while waiting for stat: ${(err as Error).message}`);
      if (Date.now() >= deadline) return fail((err as Error).message);
      await sleep(20);
    }
  }
  return m;
}

// ---------------------------------------------------------------------------
// Scoped mirror

export interface MirrorContext extends TempDirs {
  proc: MirrorProcess;
}

export interface WithMirrorOptions {
  /** Extra CLI arguments after `mirror SRC MNT` (or a function of the temp dirs). */
  args?: readonly string[] | ((dirs: TempDirs) => readonly string[]);
  /** Called with the fresh dirs before mounting (fill SRC, etc.). */
  prepare?: (dirs: TempDirs) => void | Promise<void>;
  /**
   * After this long the mount is aborted and the server killed, so that a
   * hung request fails instead of hanging the test. Keep it below the test's
   * own timeout. Default 50 s.
   */
  watchdogMs?: number;
  spawn?: SpawnOptions;
}

/**
 * Makes temp dirs, mounts a mirror, runs `fn`, and always cleans up: on success
 * the server is stopped with SIGTERM (SIGKILL + abort if that doesn't work); on
 * failure the connection is aborted first. The mount is detached and the temp
 * dirs are removed in every case.
 */
export async function withMirror<T>(fn: (ctx: MirrorContext) => Promise<T>, opts: WithMirrorOptions = {}): Promise<T> {
  const dirs = makeTempDirs();
  let proc: MirrorProcess | undefined;
  let watchdogFired = false;
  const watchdog = setTimeout(() => {
    watchdogFired = true;
    forceUnmount(dirs.mnt);
    proc?.kill();
  }, opts.watchdogMs ?? 50_000);
  try {
    if (opts.prepare) await opts.prepare(dirs);
    const args = typeof opts.args === 'function' ? opts.args(dirs) : (opts.args ?? []);
    proc = await spawnMirror(dirs.src, dirs.mnt, args, opts.spawn);
    const p = proc;
    try {
      return await fn({ ...dirs, proc: p });
    } catch (err) {
      abortConnection(dirs.mnt);
      if (err instanceof Error) {
        const tail = p.stderr().slice(-4000);
        err.message +=
          (watchdogFired ? `\n[watchdog fired after ${opts.watchdogMs ?? 50_000} ms: mount aborted]` : '') +
          (tail ? `\n--- server stderr (tail) ---\n${tail}` : '');
      }
      throw err;
    }
  } finally {
    clearTimeout(watchdog);
    if (proc) {
      if (proc.exitInfo()) {
        forceUnmount(dirs.mnt);
      } else {
        await proc.stop('SIGTERM', 10_000);
      }
    }
    forceUnmount(dirs.mnt);
    dirs.cleanup();
  }
}

// ---------------------------------------------------------------------------
// Misc helpers for tests

/** Writes to /proc/sys/vm/drop_caches after sync (in a child, with a deadline). */
export async function dropCaches(level: 1 | 2 | 3): Promise<void> {
  const r = await run('/bin/sh', ['-c', `sync; echo ${level} > /proc/sys/vm/drop_caches`], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`drop_caches failed: ${describeRun(r)}`);
}

let pythonChecked: boolean | undefined;
/** Whether python3 with ctypes is usable (for renameat2 and dirfd-relative calls). */
export async function havePython(): Promise<boolean> {
  if (pythonChecked === undefined) {
    try {
      const r = await run('python3', ['-c', 'import ctypes, os; print("ok")'], { timeoutMs: 20_000 });
      pythonChecked = r.code === 0 && r.stdout.trim() === 'ok';
    } catch {
      pythonChecked = false;
    }
  }
  return pythonChecked;
}

/** Runs a python3 snippet with args; stdout/stderr collected; deadline enforced. */
export function python(code: string, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return run('python3', ['-c', code, ...args], { timeoutMs });
}

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

const RENAMEAT2_PY = `
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
AT_FDCWD = -100
r = libc.renameat2(AT_FDCWD, os.fsencode(sys.argv[1]), AT_FDCWD, os.fsencode(sys.argv[2]), int(sys.argv[3]))
if r != 0:
    e = ctypes.get_errno()
    print(errno.errorcode.get(e, str(e)))
    sys.exit(1)
print("OK")
`;

/** renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) in a child; resolves 'OK' or the errno name. */
export async function renameat2(from: string, to: string, flags: number): Promise<string> {
  const r = await python(RENAMEAT2_PY, [from, to, String(flags)]);
  if (r.timedOut) throw new Error(`renameat2 timed out: ${describeRun(r)}`);
  const out = r.stdout.trim();
  if (!out) throw new Error(`renameat2 helper failed: ${describeRun(r)}`);
  return out;
}

/** Fields of a bigint lstat that a passthrough mirror must reproduce exactly. */
export function statFields(s: fs.BigIntStats): Record<string, string> {
  return {
    mode: '0o' + s.mode.toString(8),
    nlink: String(s.nlink),
    uid: String(s.uid),
    gid: String(s.gid),
    size: String(s.size),
    rdev: String(s.rdev),
    mtimeNs: String(s.mtimeNs),
    ctimeNs: String(s.ctimeNs),
  };
}

export async function lstatBig(p: string): Promise<fs.BigIntStats> {
  return fs.promises.lstat(p, { bigint: true });
}

/** The errno code a promise rejects with, or undefined when it resolves. */
export async function errCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}
