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
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------
// Locations

function findRepoRoot(): string {
  const fromEnv = process.env['FUSEKIT_ROOT'];
  if (fromEnv) return path.resolve(fromEnv);
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Compiled layout: <root>/dist/test/helpers/mount.js; walk up to the package.
  let dir = here;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'fusekit') return dir;
    } catch {
      /* keep walking */
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.resolve(here, '../../..');
}

/** The repository root (holds package.json, bin/, dist/). */
export const REPO_ROOT = findRepoRoot();
/** The CLI entry point; run it as `process.execPath, [CLI, ...]`. */
export const CLI = path.join(REPO_ROOT, 'bin', 'fusekit');

// ---------------------------------------------------------------------------
// Small utilities

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Races `p` against a deadline; the loser is not cancelled. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Calls `fn` until it returns a truthy value (which is returned) or the deadline
 * passes (then throws, naming `what` and the last error/value).
 */
export async function pollUntil<T>(
  fn: () => T | Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<NonNullable<T>> {
  const end = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what} (last: ${detail})`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}

// ---------------------------------------------------------------------------
// Running tools

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBuf: Buffer;
  timedOut: boolean;
  durationMs: number;
}

export interface RunOptions {
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Bytes of stdout/stderr kept (each); the rest is drained and dropped. Default 64 MiB. */
  maxBuffer?: number;
}

/**
 * Runs a tool with a hard deadline (SIGKILL when it passes). Resolves with the
 * outcome whatever the exit status; rejects only if the program can't be spawned.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const max = opts.maxBuffer ?? 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, [...args], {
        cwd: opts.cwd,
        env: opts.env ?? childEnv(),
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(err);
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout?.on('data', (b: Buffer) => {
      if (outLen < max) out.push(b);
      outLen += b.length;
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (errLen < max) err.push(b);
      errLen += b.length;
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBuf = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout: stdoutBuf.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBuf,
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}

/** Runs the fusekit CLI (not a mirror that stays up: use spawnMirror for that). */
export function runCli(args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], opts);
}

/** Formats a RunResult for assertion messages. */
export function describeRun(r: RunResult): string {
  return (
    `exit=${r.code} signal=${r.signal} timedOut=${r.timedOut} ${r.durationMs}ms\n` +
    `stdout: ${r.stdout.slice(0, 4000)}\nstderr: ${r.stderr.slice(0, 4000)}`
  );
}

function childEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // Set by node --test for its file processes; meaningless to our children.
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

// ---------------------------------------------------------------------------
// Mount table
//
// Parsed here rather than with src/transport/mount.ts on purpose: the cleanup
// that guarantees no mount outlives a test must not depend on the code under test.

export interface MountEntry {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  root: string;
  mountPoint: string;
  options: string;
  fstype: string;
  source: string;
  superOptions: string;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (reading it never touches any mount). */
export function mountEntries(): MountEntry[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    const [major, minor] = (f[2] ?? '0:0').split(':').map((x) => Number(x));
    entries.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      major: major ?? 0,
      minor: minor ?? 0,
      root: unescapeMountinfo(f[3] ?? ''),
      mountPoint: unescapeMountinfo(f[4] ?? ''),
      options: f[5] ?? '',
      fstype: f[sep + 1] ?? '',
      source: unescapeMountinfo(f[sep + 2] ?? ''),
      superOptions: f[sep + 3] ?? '',
    });
  }
  return entries;
}

function isFuseType(fstype: string): boolean {
  return fstype === 'fuse' || fstype === 'fuseblk' || fstype.startsWith('fuse.') || fstype.startsWith('fuseblk.');
}

/** The top-most mount entry at `mnt` (as given: pass canonical paths), if any. */
export function mountAt(mnt: string): MountEntry | undefined {
  const p = path.resolve(mnt);
  const all = mountEntries().filter((e) => e.mountPoint === p);
  return all[all.length - 1];
}

/** Whether anything is mounted at `mnt`. */
export function isMounted(mnt: string): boolean {
  return mountAt(mnt) !== undefined;
}

/** The fusectl connection number (minor device of the FUSE mount at `mnt`). */
export function connectionIdOf(mnt: string): number | undefined {
  const p = path.resolve(mnt);
  const fuse = mountEntries().filter((e) => e.mountPoint === p && isFuseType(e.fstype));
  const top = fuse[fuse.length - 1];
  return top?.minor;
}

const FUSECTL_DIR = '/sys/fs/fuse/connections';

/** Mounts fusectl if it isn't (needs root). Never throws. */
export function ensureFusectl(): boolean {
  try {
    if (mountEntries().some((e) => e.fstype === 'fusectl')) return true;
    spawnSync('mount', ['-t', 'fusectl', 'none', FUSECTL_DIR], { stdio: 'ignore', timeout: 5000 });
    return mountEntries().some((e) => e.fstype === 'fusectl');
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
    const id = connectionIdOf(mnt);
    if (id === undefined) return false;
    ensureFusectl();
    fs.writeFileSync(path.join(FUSECTL_DIR, String(id), 'abort'), '1');
    return true;
  } catch {
    return false;
  }
}

/** Aborts the connection (if FUSE) and detaches the mount with `umount -l`. Never throws. */
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

function isMountedSafe(p: string): boolean {
  try {
    return isMounted(p);
  } catch {
    return false;
  }
}

/** Every fuse mount currently in the mount table (for leak checks). */
export function fuseMounts(): MountEntry[] {
  return mountEntries().filter((e) => isFuseType(e.fstype));
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
        const under = () =>
          mountEntries()
            .filter((e) => e.mountPoint === root || e.mountPoint.startsWith(root + '/'))
            .map((e) => e.mountPoint)
            .sort((a, b) => b.length - a.length);
        for (const m of under()) forceUnmount(m);
        // Never let rm walk into a mount.
        if (under().length > 0) return;
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
  const child = setup
    ? spawn('/bin/sh', ['-c', `${setup}exec "$0" "$@"`, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(opts.env) })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(opts.env) });

  const errChunks: Buffer[] = [];
  const outChunks: Buffer[] = [];
  let errLen = 0;
  let outLen = 0;
  child.stderr?.on('data', (b: Buffer) => {
    if (errLen < OUTPUT_CAP) errChunks.push(b);
    errLen += b.length;
  });
  child.stdout?.on('data', (b: Buffer) => {
    if (outLen < OUTPUT_CAP) outChunks.push(b);
    outLen += b.length;
  });

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
    stderr: () => Buffer.concat(errChunks).toString('utf8'),
    stdout: () => Buffer.concat(outChunks).toString('utf8'),
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
    if (e && isFuseType(e.fstype)) break;
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

/** Number of open fds of a process (entries of /proc/PID/fd). */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

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
