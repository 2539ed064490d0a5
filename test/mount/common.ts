/**
 * Helpers for mount tests run as an ordinary user (`nobody`): the tests
 * themselves run as root, and every process that mounts or touches such a
 * mount runs as that user through setpriv. A FUSE mount without allow_other
 * lets in only its owner, so even root's `stat` of it fails with EACCES:
 * readiness comes from the mount table and the server's stderr, and cleanup
 * (which needs no access to the mount) from root, as in helpers/mount.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  REPO_ROOT,
  forceUnmount,
  isMounted,
  mountAt,
  makeTempDirs,
  run,
  sleep,
  type RunOptions,
  type RunResult,
  type TempDirs,
} from '../helpers/mount.js';

/** The ordinary user the tests mount as. */
export const USER = { name: 'nobody', uid: 65534, gid: 65534 };

/** setpriv arguments that turn the rest of the command line into `USER`, with no supplementary groups and no capabilities. */
export function asUserArgs(env?: Record<string, string>): string[] {
  const envArgs = env ? ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)] : [];
  return [`--reuid=${USER.uid}`, `--regid=${USER.gid}`, '--clear-groups', '--inh-caps=-all', ...envArgs];
}

/** Runs `cmd args` as `USER`. */
export function runAsUser(cmd: string, args: readonly string[], opts: RunOptions & { userEnv?: Record<string, string> }): Promise<RunResult> {
  return run('setpriv', [...asUserArgs(opts.userEnv), cmd, ...args], opts);
}

/** Runs a shell command line as `USER` (in `cwd` if given). */
export function shAsUser(script: string, opts: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return runAsUser('sh', ['-c', script], { timeoutMs: opts.timeoutMs ?? 30_000, cwd: opts.cwd });
}

/**
 * Why ordinary-user mounts cannot be tested here, or undefined: fusermount3
 * must be installed set-user-ID root (`.ci/run` installs Debian's fuse3), and
 * /dev/fuse readable and writable by everyone (udev's usual mode 0666).
 */
export function unprivilegedMountsUnavailable(): string | undefined {
  const helper = ['/usr/bin/fusermount3', '/bin/fusermount3', '/usr/local/bin/fusermount3'].find((p) => fs.existsSync(p));
  if (!helper) return 'fusermount3 is not installed (apt install fuse3, or run .ci/run)';
  const st = fs.statSync(helper);
  if (st.uid !== 0 || (st.mode & 0o4000) === 0) return `${helper} is not set-user-ID root`;
  try {
    if ((fs.statSync('/dev/fuse').mode & 0o006) !== 0o006) return '/dev/fuse is not readable and writable by other users (chmod 0666 /dev/fuse, as udev does)';
  } catch {
    return '/dev/fuse does not exist';
  }
  if (process.getuid?.() !== 0) return 'the tests must run as root to switch to another user';
  return undefined;
}

let readableRootPromise: Promise<string> | undefined;

/**
 * A copy of the package (package.json, bin, dist, koffi) that `USER` can
 * read: the repository itself when it already is (a checkout under /root is
 * not), a temporary copy otherwise.
 */
export function userReadableRoot(): Promise<string> {
  readableRootPromise ??= (async () => {
    const probe = await runAsUser(process.execPath, ['-e', `import(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/index.js'))}).then(() => process.exit(0), () => process.exit(1))`], { timeoutMs: 30_000 });
    if (probe.code === 0) return REPO_ROOT;
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-pkg-'));
    fs.chmodSync(copy, 0o755);
    for (const part of ['package.json', 'bin', 'dist']) {
      fs.cpSync(path.join(REPO_ROOT, part), path.join(copy, part), { recursive: true, dereference: true });
    }
    const modules = path.join(REPO_ROOT, 'node_modules');
    for (const dep of ['koffi', ...fs.readdirSync(path.join(modules, '@koromix')).map((d) => `@koromix/${d}`)]) {
      fs.cpSync(path.join(modules, dep), path.join(copy, 'node_modules', dep), { recursive: true, dereference: true });
    }
    await run('chmod', ['-R', 'a+rX', copy], { timeoutMs: 30_000 });
    process.once('exit', () => fs.rmSync(copy, { recursive: true, force: true }));
    return copy;
  })();
  return readableRootPromise;
}

/** Temp dirs whose SRC and MNT belong to USER (root stays root's, mode 0755). */
export type UserDirs = TempDirs;

/** Fresh directories for one test: SRC and MNT belong to USER. */
export function makeUserDirs(prefix = 'fusekit-user-'): UserDirs {
  const dirs = makeTempDirs(prefix);
  fs.chmodSync(dirs.root, 0o755);
  for (const d of [dirs.src, dirs.mnt]) fs.chownSync(d, USER.uid, USER.gid);
  return dirs;
}

/** Whether `mnt` is a FUSE mount owned by `uid` (user_id in its super options; USER by default). */
export function mountedByUser(mnt: string, uid = USER.uid): boolean {
  const e = mountAt(mnt);
  return e?.fsType.startsWith('fuse') === true && e.superOptions.split(',').includes(`user_id=${uid}`);
}

/** Polls until nothing is mounted at `mnt`; returns how long it took, or undefined at the deadline. */
export async function waitUnmounted(mnt: string, timeoutMs: number): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start <= timeoutMs) {
    if (!isMounted(mnt)) return Date.now() - start;
    await sleep(20);
  }
  return undefined;
}

/** A server process run as USER (or as root). */
export interface UserServer {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit status (code, or the signal that ended it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for exit up to `ms`; undefined if still running. */
  waitExit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined>;
  /** Kills it (SIGKILL) and detaches `mnt` if it is still there. */
  destroy(): Promise<void>;
}

/**
 * Starts `node argv...` as USER (as root with `asRoot`) and waits until `mnt`
 * is a FUSE mount of that user and `ready` matches stdout or stderr (the CLI
 * prints "mirroring ..." after INIT). Rejects with the server's stderr if it
 * exits first or the deadline passes (after cleaning up).
 */
export async function startUserServer(
  argv: readonly string[],
  mnt: string,
  opts: { ready: RegExp; timeoutMs?: number; env?: Record<string, string>; asRoot?: boolean },
): Promise<UserServer> {
  const env = { ...process.env, NODE_TEST_CONTEXT: undefined };
  const child = opts.asRoot
    ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, ...opts.env } })
    : spawn('setpriv', [...asUserArgs(opts.env), process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => { if (out.length < 1 << 20) out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { if (err.length < 1 << 20) err += b.toString(); });
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
  });
  const waitExit = async (ms: number) => {
    if (status) return status;
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([exited, new Promise<undefined>((res) => { t = setTimeout(() => res(undefined), ms); })]);
    clearTimeout(t);
    return r;
  };
  const server: UserServer = {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    waitExit,
    async destroy() {
      if (!status) child.kill('SIGKILL');
      await waitExit(5000);
      forceUnmount(mnt);
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (status) {
      forceUnmount(mnt);
      throw new Error(`server exited before it was ready (${JSON.stringify(status)})\n--- stderr ---\n${err}`);
    }
    if (mountedByUser(mnt, opts.asRoot ? 0 : USER.uid) && (opts.ready.test(err) || opts.ready.test(out))) return server;
    if (Date.now() > deadline) {
      await server.destroy();
      throw new Error(`server not ready within ${opts.timeoutMs ?? 15_000} ms\n--- stderr ---\n${err}`);
    }
    await sleep(20);
  }
}
