/**
 * Shared pieces of the passthrough real-mount tests: the storm worker (C,
 * compiled at test time), cache dropping per file, and a stack of mirrors (a
 * mirror of a mirror) with reverse-order cleanup. The stats file helpers are
 * in ../helpers/stats.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  REPO_ROOT,
  abortConnection,
  describeRun,
  forceUnmount,
  makeTempDirs,
  python,
  run,
  spawnMirror,
  type MirrorProcess,
  type TempDirs,
} from '../helpers/mount.js';

// ---------------------------------------------------------------------------
// Caches

/**
 * Drops the page cache of these files only (fsync, then POSIX_FADV_DONTNEED),
 * so that the next read really goes to the server or the backing file. Unlike
 * /proc/sys/vm/drop_caches this leaves every other file's cache alone (other
 * work on the machine, e.g. benchmarks, is not disturbed).
 */
export async function dropFileCaches(files: readonly string[]): Promise<void> {
  const r = await python(
    `
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
print('OK')
`,
    files,
    30_000,
  );
  if (r.code !== 0 || r.stdout.trim() !== 'OK') throw new Error(`dropping caches failed: ${describeRun(r)}`);
}

/** `cmp a b` with a deadline; resolves undefined when identical, else cmp's message. */
export async function cmp(a: string, b: string): Promise<string | undefined> {
  const r = await run('cmp', [a, b], { timeoutMs: 30_000 });
  if (r.code === 0) return undefined;
  return `cmp ${a} ${b}: ${describeRun(r)}`;
}

// ---------------------------------------------------------------------------
// The storm worker

let gccChecked: boolean | undefined;
export async function haveGcc(): Promise<boolean> {
  if (gccChecked === undefined) {
    try {
      gccChecked = (await run('gcc', ['--version'], { timeoutMs: 20_000 })).code === 0;
    } catch {
      gccChecked = false;
    }
  }
  return gccChecked;
}

export const STORM_WORKER_SOURCE = path.join(REPO_ROOT, 'test', 'passthrough-mount', 'storm-worker.c');

/** Compiles the storm worker into `dir` and returns the binary's path. */
export async function compileStormWorker(dir: string): Promise<string> {
  const out = path.join(dir, 'storm-worker');
  const r = await run('gcc', ['-O2', '-Wall', '-o', out, STORM_WORKER_SOURCE], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`compiling ${STORM_WORKER_SOURCE} failed: ${describeRun(r)}`);
  return out;
}

export interface WorkerReport {
  worker: number;
  ops: number;
  corrupt: number;
  sigbus: number;
  skipped: number;
  opCounts: Record<string, number>;
  /** "op/syscall:ERRNAME" → count. */
  errors: Record<string, number>;
}

export interface StormResult {
  workers: WorkerReport[];
  ops: number;
  corrupt: number;
  sigbus: number;
  /** Summed over workers: "op/syscall:ERRNAME" → count. */
  errors: Record<string, number>;
  /** Summed by errno name alone. */
  byErrno: Record<string, number>;
  /** Whatever the workers wrote on stderr (SIGBUS reports). */
  stderr: string;
  seed: number;
}

export interface StormOptions {
  files: number;
  seconds: number;
  workers: number;
  seed: number;
}

/**
 * Runs `opts.workers` storm workers at once on DIR/f0..f{files-1} and collects
 * their reports. Throws if any worker did not exit 0 within the deadline or
 * printed no report (so "all workers exited" is part of every storm).
 */
export async function runStorm(worker: string, dir: string, lockFile: string, opts: StormOptions): Promise<StormResult> {
  const deadlineMs = opts.seconds * 1000 + 15_000;
  const runs = await Promise.all(
    Array.from({ length: opts.workers }, (_, i) =>
      run(worker, [dir, String(opts.files), String(opts.seconds), String(opts.seed + i), String(i + 1), lockFile], {
        timeoutMs: deadlineMs,
      }),
    ),
  );
  const res: StormResult = { workers: [], ops: 0, corrupt: 0, sigbus: 0, errors: {}, byErrno: {}, stderr: '', seed: opts.seed };
  runs.forEach((r, i) => {
    if (r.code !== 0 || r.timedOut) throw new Error(`storm worker ${i + 1} did not finish cleanly: ${describeRun(r)}`);
    let rep: WorkerReport;
    try {
      rep = JSON.parse(r.stdout.trim()) as WorkerReport;
    } catch {
      throw new Error(`storm worker ${i + 1} printed no report: ${describeRun(r)}`);
    }
    res.workers.push(rep);
    res.ops += rep.ops;
    res.corrupt += rep.corrupt;
    res.sigbus += rep.sigbus;
    for (const [k, v] of Object.entries(rep.errors)) {
      res.errors[k] = (res.errors[k] ?? 0) + v;
      const errno = k.slice(k.lastIndexOf(':') + 1);
      res.byErrno[errno] = (res.byErrno[errno] ?? 0) + v;
    }
    res.stderr += r.stderr;
  });
  return res;
}

/** Errors of the storm whose key matches `re` ("op/syscall:ERRNAME"). */
export function stormErrors(s: StormResult, re: RegExp): Record<string, number> {
  return Object.fromEntries(Object.entries(s.errors).filter(([k]) => re.test(k)));
}

export function sum(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

/** Fills DIR with f0, f1 (64 KiB of the worker's alphabet) and an empty f2. */
export function prepareStormFiles(dir: string, files: number): void {
  const line = Buffer.from('initial-content-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghij\n');
  const body = Buffer.alloc(65536);
  for (let o = 0; o < body.length; o += line.length) line.copy(body, o);
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(dir, `f${i}`), i === files - 1 ? Buffer.alloc(0) : body);
}

/**
 * Mounts a fresh tmpfs on `dir` (which must lie under a makeTempDirs root, whose
 * cleanup unmounts it). The storms use one as SRC: on ext4 an O_DIRECT read or
 * write that races a MAP_SHARED write fault on the same file fails with EIO
 * ("Direct I/O collision with buffered writes!", fs/iomap/direct-io.c), also
 * with no FUSE involved, and that EIO would hide the ones this suite looks for.
 */
export async function mountTmpfs(dir: string, size = '256m'): Promise<void> {
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'fusekit-test', dir], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`mounting a tmpfs on ${dir} failed: ${describeRun(r)}`);
}

/** A temp dir (for the worker binary and lock files) removed by the returned function. */
export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------
// A stack of mirrors

export interface StackLayer {
  /** Source of this layer: SRC for the first, an earlier layer's MNT otherwise. */
  from: 'src' | number;
  args: readonly string[];
}

export interface StackContext extends TempDirs {
  /** Mountpoints, one per layer (layer 0's is dirs.mnt). */
  mnts: string[];
  procs: MirrorProcess[];
  /** A stats file per layer (passed as --stats-file). */
  stats: string[];
}

/**
 * Mounts the layers in order (each `from` must be an earlier layer), runs fn,
 * and always cleans up in reverse order (the last mounted first), so no layer
 * is unmounted while a mirror above still uses it. On failure every
 * connection is aborted, top first, before the unmounts. A watchdog aborts
 * and detaches everything after `watchdogMs`.
 */
export async function withMirrorStack<T>(
  layers: readonly StackLayer[],
  fn: (ctx: StackContext) => Promise<T>,
  opts: { prepare?: (dirs: TempDirs) => void | Promise<void>; watchdogMs?: number } = {},
): Promise<T> {
  const dirs = makeTempDirs('fusekit-stack-');
  const mnts = layers.map((_, i) => (i === 0 ? dirs.mnt : path.join(dirs.root, `mnt${i + 1}`)));
  const stats = layers.map((_, i) => path.join(dirs.root, `stats${i + 1}.json`));
  const procs: MirrorProcess[] = [];
  const topDown = () => [...mnts].reverse();
  let watchdogFired = false;
  const watchdog = setTimeout(() => {
    watchdogFired = true;
    for (const m of topDown()) forceUnmount(m);
    for (const p of procs) p.kill();
  }, opts.watchdogMs ?? 50_000);
  try {
    for (const m of mnts.slice(1)) fs.mkdirSync(m);
    if (opts.prepare) await opts.prepare(dirs);
    for (const [i, layer] of layers.entries()) {
      if (layer.from !== 'src' && !(layer.from >= 0 && layer.from < i)) throw new Error(`layer ${i} must stack on an earlier layer`);
      const from = layer.from === 'src' ? dirs.src : mnts[layer.from]!;
      procs.push(await spawnMirror(from, mnts[i]!, [...layer.args, '--stats-file', stats[i]!]));
    }
    try {
      return await fn({ ...dirs, mnts, procs, stats });
    } catch (err) {
      for (const m of topDown()) abortConnection(m);
      if (err instanceof Error) {
        err.message += watchdogFired ? `\n[watchdog fired after ${opts.watchdogMs ?? 50_000} ms: mounts aborted]` : '';
        procs.forEach((p, i) => {
          const tail = p.stderr().slice(-2000);
          if (tail) err.message += `\n--- layer ${i + 1} server stderr (tail) ---\n${tail}`;
        });
      }
      throw err;
    }
  } finally {
    clearTimeout(watchdog);
    for (const p of [...procs].reverse()) {
      if (p.exitInfo()) forceUnmount(p.mnt);
      else await p.stop('SIGTERM', 10_000);
      forceUnmount(p.mnt);
    }
    for (const m of topDown()) forceUnmount(m);
    dirs.cleanup();
  }
}
