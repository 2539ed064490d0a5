/**
 * `npm run bench`: the same workloads on the source directory itself, on a
 * `fusekit mirror` of it with kernel passthrough (`--passthrough always`) and
 * on one without (`--passthrough never`), then one table of medians and of
 * ratios against the source (higher is better).
 *
 *   npm run bench -- [--size 512M] [--files 10000] [--reps 3] [--runtime 10]
 *                    [--tree-mb 48] [--quick] [--out FILE.json] [--dir DIR]
 *                    [--cli PATH] [--keep]
 *
 * Every workload runs in a child process (dd, fio, tar, find, rm, and a small
 * C program compiled at run time, or its Node twin), each with a deadline;
 * the mirror is always a separate process too. Nothing here blocks on a mount.
 * On Ctrl-C, a signal or a failure the mirrors are stopped with SIGTERM, then
 * aborted through fusectl and detached with `umount -l` if they don't go.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mirror, forceUnmount, fuseMountPoints, mountAt, mountsUnder, statsAfter, statsDelta, type StatsSnapshot } from './mounts.js';
import { activeChildren, killAllChildren, run, runOk, sleep, ToolError, type RunResult } from './proc.js';

const MiB = 1024 * 1024;
const HERE = path.dirname(fileURLToPath(import.meta.url));

function findRepoRoot(): string {
  let dir = HERE;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'fusekit') return dir;
    } catch {
      /* keep walking */
    }
    dir = path.dirname(dir);
  }
  return path.resolve(HERE, '../..');
}
const REPO = findRepoRoot();

// ---------------------------------------------------------------------------
// Options

interface Options {
  size: number;
  files: number;
  reps: number;
  runtime: number;
  treeBytes: number;
  quick: boolean;
  out?: string;
  dir: string;
  cli: string;
  keep: boolean;
}

const USAGE = `usage: npm run bench -- [options]
  --size N[K|M|G]   sequential file size (default 512M; --quick: 32M)
  --files N         files for create/stat/unlink (default 10000; --quick: 1000)
  --reps N          repetitions per workload, median reported (default 3; --quick: 1)
  --runtime S       seconds of random reads per repetition (default 10; --quick: 2)
  --tree-mb N       size of the tarball cut from /usr/include (default 48; --quick: 8)
  --quick           small sizes for a smoke run
  --out FILE        also write the raw results as JSON
  --dir DIR         scratch directory (default /tmp/fusekit-bench; must be on the
                    filesystem you want as the baseline; removed at the end)
  --cli PATH        the fusekit entry point to test (default: this checkout's bin/fusekit)
  --keep            keep DIR (source files and tarball) at the end
`;

class UsageError extends Error {}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`--size: cannot parse '${s}' (e.g. 256M, 1G)`);
  const mult = { '': 1, k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB }[(m[2] ?? '').toLowerCase()] ?? 1;
  const bytes = Math.round((Number(m[1]) * mult) / MiB) * MiB;
  if (bytes < MiB) throw new UsageError('--size must be at least 1M');
  return bytes;
}

function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`${name} needs a positive integer`);
  return n;
}

function parseArgs(argv: string[]): Options | 'help' {
  const explicit: Partial<Options> = {};
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i] ?? '';
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const next = () => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '-h':
      case '--help': return 'help';
      case '--quick': quick = true; break;
      case '--keep': explicit.keep = true; break;
      case '--size': explicit.size = parseSize(next()); break;
      case '--files': explicit.files = positiveInt(arg, next()); break;
      case '--reps': explicit.reps = positiveInt(arg, next()); break;
      case '--runtime': explicit.runtime = positiveInt(arg, next()); break;
      case '--tree-mb': explicit.treeBytes = positiveInt(arg, next()) * MiB; break;
      case '--out': explicit.out = path.resolve(next()); break;
      case '--dir': explicit.dir = path.resolve(next()); break;
      case '--cli': explicit.cli = path.resolve(next()); break;
      default: throw new UsageError(`unknown option '${arg}'`);
    }
  }
  const base: Options = quick
    ? { size: 32 * MiB, files: 1000, reps: 1, runtime: 2, treeBytes: 8 * MiB, quick, dir: '/tmp/fusekit-bench', cli: path.join(REPO, 'bin', 'fusekit'), keep: false }
    : { size: 512 * MiB, files: 10_000, reps: 3, runtime: 10, treeBytes: 48 * MiB, quick, dir: '/tmp/fusekit-bench', cli: path.join(REPO, 'bin', 'fusekit'), keep: false };
  return { ...base, ...explicit };
}

// ---------------------------------------------------------------------------
// Results

type Kind = 'rate' | 'duration' | 'memory';

interface RowDef {
  id: string;
  label: string;
  unit: string;
  kind: Kind;
  /** Rows whose READ/WRITE request counts are shown for the mirrors. */
  counted?: boolean;
}

interface RowResult {
  reps: number[];
  median?: number;
  error?: string;
  /** Raw per-repetition details (tool output) for the JSON file. */
  raw: unknown[];
}

type TargetKey = 'source' | 'pt' | 'nopt';

interface TargetState {
  key: TargetKey;
  title: string;
  root: string;
  /** For mirrors: the --passthrough mode asked for. */
  mode?: 'always' | 'never';
  /** The extra CLI arguments actually used (after any fallback). */
  mirrorArgs?: string[];
  /** Set when the CLI rejected --passthrough and the mirror ran without it. */
  flagRejected?: boolean;
  startMessage?: string;
  rows: Record<string, RowResult>;
  /** READ/WRITE/... request deltas per counted row (mirrors only). */
  requests: Record<string, Record<string, number> | undefined>;
  totalRequests?: Record<string, number>;
  peakRssKiB?: number;
  stop?: { code: number | null; signal: NodeJS.Signals | null; forced: boolean };
  error?: string;
  seconds?: number;
}

// ---------------------------------------------------------------------------
// Shutdown: whatever happens, no mount and no server stays behind.

const liveMirrors = new Set<Mirror>();
let shuttingDown = false;
let scratchDir = '';
let keepScratch = false;

class Aborted extends Error {}

function guard(): void {
  if (shuttingDown) throw new Aborted('interrupted');
}

function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

function removeScratch(): void {
  if (!scratchDir || keepScratch) return;
  try {
    for (const m of mountsUnder(scratchDir)) forceUnmount(m);
    if (mountsUnder(scratchDir).length > 0) {
      log(`bench: ${scratchDir} still has mounts under it; not removing it`);
      return;
    }
    fs.rmSync(scratchDir, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    log(`bench: could not remove ${scratchDir}: ${(err as Error).message}`);
  }
}

async function emergencyExit(reason: string, code: number): Promise<void> {
  if (shuttingDown) {
    log(`bench: ${reason} again; still cleaning up (bounded, a few seconds)`);
    return;
  }
  shuttingDown = true;
  log(`\nbench: ${reason}: killing workloads, stopping mirrors, unmounting`);
  const servers = new Set([...liveMirrors].map((m) => m.child));
  killAllChildren(servers);
  await Promise.all([...liveMirrors].map((m) => m.stop(3000)));
  if (scratchDir) for (const m of mountsUnder(scratchDir)) forceUnmount(m);
  removeScratch();
  process.exit(code);
}

function installSignalHandlers(): void {
  process.on('SIGINT', () => void emergencyExit('interrupted (SIGINT)', 130));
  process.on('SIGTERM', () => void emergencyExit('terminated (SIGTERM)', 143));
  process.on('SIGHUP', () => void emergencyExit('hung up (SIGHUP)', 129));
  process.on('uncaughtException', (err) => {
    log(`bench: internal error: ${err.stack ?? err.message}`);
    void emergencyExit('internal error', 70);
  });
  process.on('unhandledRejection', (err) => {
    log(`bench: internal error: ${(err as Error)?.stack ?? String(err)}`);
    void emergencyExit('internal error', 70);
  });
  // Last resort (synchronous): e.g. process.exit from somewhere unexpected.
  process.on('exit', () => {
    for (const c of activeChildren) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const m of liveMirrors) m.killNow();
    if (scratchDir) for (const m of mountsUnder(scratchDir)) forceUnmount(m);
  });
}

// ---------------------------------------------------------------------------
// Environment: tools, scratch directory, tarball

interface LoadTool {
  kind: 'c' | 'node';
  describe: string;
  cmd: string;
  args: string[];
}

interface ToolOutput {
  ops: number;
  bytes: number;
  seconds: number;
}

interface Env {
  opts: Options;
  tool: LoadTool;
  fio?: string;
  tarball: string;
  tree: { from: string; files: number; dirs: number; bytes: number; tarBytes: number };
  src: string;
  work: string;
  /** Signs of other activity seen during the run (foreign FUSE mounts, load). */
  disturbance: string[];
}

function which(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return undefined;
  return (r.stdout || r.stderr).trim().split('\n')[0];
}

async function loadTool(work: string): Promise<LoadTool> {
  const source = path.join(REPO, 'bench', 'benchtool.c');
  const bin = path.join(work, 'benchtool');
  if (which('gcc', ['--version']) && fs.existsSync(source)) {
    const r = await run('gcc', ['-O2', '-o', bin, source], { timeoutMs: 60_000 });
    if (r.code === 0) return { kind: 'c', describe: 'bench/benchtool.c (gcc -O2, built at run time)', cmd: bin, args: [] };
    log(`bench: gcc could not build ${source} (${r.stderr.trim().split('\n')[0] ?? ''}); using the Node fallback`);
  }
  return { kind: 'node', describe: 'dist/bench/tool.js (Node; gcc not available)', cmd: process.execPath, args: [path.join(HERE, 'tool.js')] };
}

function prepareScratch(dir: string): void {
  for (const m of mountsUnder(dir)) {
    log(`bench: detaching a leftover mount at ${m}`);
    forceUnmount(m);
  }
  if (mountsUnder(dir).length > 0) throw new Error(`cannot clear the mounts under ${dir}`);
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir);
    if (entries.length > 0 && !entries.includes('.fusekit-bench')) {
      throw new Error(`${dir} exists, is not empty and was not made by the benchmark; pick another --dir`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.fusekit-bench'), 'scratch directory of npm run bench; removed at the end\n');
  for (const d of ['src', 'mnt-pt', 'mnt-nopt', 'work']) fs.mkdirSync(path.join(dir, d));
}

/** A tarball of the first `cap` bytes of /usr/include (depth-first, sorted), made once. */
async function makeTarball(work: string, cap: number): Promise<Env['tree'] & { path: string }> {
  const candidates = ['/usr/include', '/usr/share/doc', path.join(REPO, 'node_modules')];
  const root = candidates.find((c) => {
    try {
      return fs.statSync(c).isDirectory();
    } catch {
      return false;
    }
  });
  if (!root) throw new Error('no directory to make the tarball from (tried /usr/include, /usr/share/doc)');
  const parent = path.dirname(root);
  const list: string[] = [];
  let bytes = 0;
  let files = 0;
  let dirs = 0;
  const walk = (rel: string): boolean => {
    const abs = path.join(parent, rel);
    let names: string[];
    try {
      names = fs.readdirSync(abs).sort();
    } catch {
      return true;
    }
    list.push(rel);
    dirs++;
    for (const n of names) {
      if (bytes >= cap) return false;
      const r = path.join(rel, n);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(path.join(parent, r));
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!walk(r)) return false;
      } else if (st.isFile() || st.isSymbolicLink()) {
        list.push(r);
        files++;
        if (st.isFile()) bytes += st.size;
      }
    }
    return true;
  };
  walk(path.basename(root));
  const listFile = path.join(work, 'tree.list');
  fs.writeFileSync(listFile, list.join('\0') + '\0');
  const tarball = path.join(work, 'tree.tar');
  await runOk('tar', ['-cf', tarball, '-C', parent, '--null', '--no-recursion', '-T', listFile], { timeoutMs: 300_000 });
  return { path: tarball, from: root, files, dirs, bytes, tarBytes: fs.statSync(tarball).size };
}

// ---------------------------------------------------------------------------
// Workload steps (each one a child process)

function timeoutFor(bytes: number): number {
  return 120_000 + (bytes / MiB) * 500; // 2 min + 0.5 s per MiB (2 MiB/s floor)
}

async function dropCaches(): Promise<void> {
  guard();
  await runOk('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { timeoutMs: 180_000 });
}

async function syncAll(): Promise<void> {
  guard();
  await runOk('sync', [], { timeoutMs: 180_000 });
}

/** dd's own elapsed time (covers the copy and conv=fsync, not process start-up), else wall clock. */
function ddSeconds(r: RunResult): number {
  const m = /copied, ([0-9.e+-]+) s/.exec(r.stderr);
  const s = m ? Number(m[1]) : NaN;
  return Number.isFinite(s) && s > 0 ? s : r.seconds;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function fmtNum(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtValue(v: number, def: RowDef): string {
  switch (def.kind) {
    case 'duration': return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} s`;
    case 'memory': return `${fmtNum(v, 0)} MiB`;
    default:
      if (def.unit === 'MiB/s') return `${fmtNum(v, v < 100 ? 1 : 0)} MiB/s`;
      return `${fmtNum(v, 0)} ${def.unit}`;
  }
}

class Runner {
  constructor(
    private readonly env: Env,
    private readonly t: TargetState,
    private readonly mirror: Mirror | undefined,
  ) {}

  /** Before every step: never let a workload land in a bare mountpoint directory. */
  private check(): void {
    guard();
    if (this.mirror && !this.mirror.healthy()) {
      throw new ToolError(`the mirror server is gone or unmounted (stderr: ${this.mirror.stderr().trim().split('\n').slice(-3).join(' | ')})`);
    }
  }

  private row(id: string): RowResult {
    return (this.t.rows[id] ??= { reps: [], raw: [] });
  }

  private record(id: string, value: number, raw: unknown, rep: number, def: RowDef): void {
    const r = this.row(id);
    r.reps.push(value);
    r.raw.push(raw);
    log(`  [${this.t.key}] ${def.label}: rep ${rep + 1}/${this.env.opts.reps}: ${fmtValue(value, def)}`);
  }

  private fail(ids: string[], err: unknown): void {
    const msg = (err as Error).message;
    for (const id of ids) {
      const r = this.row(id);
      if (r.reps.length < this.env.opts.reps && !r.error) r.error = msg;
    }
    log(`  [${this.t.key}] FAILED: ${msg}`);
  }

  private async tool(args: string[], timeoutMs: number): Promise<ToolOutput> {
    this.check();
    const r = await runOk(this.env.tool.cmd, [...this.env.tool.args, ...args], { timeoutMs, captureStdout: true });
    return JSON.parse(r.stdout.trim()) as ToolOutput;
  }

  private async sh(cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
    this.check();
    return runOk(cmd, args, { timeoutMs });
  }

  private async snapshot(): Promise<StatsSnapshot | undefined> {
    if (!this.mirror) return undefined;
    return statsAfter(this.mirror.statsFile, Date.now());
  }

  private count(id: string, a: StatsSnapshot | undefined, b: StatsSnapshot | undefined): void {
    if (this.mirror) this.t.requests[id] = statsDelta(a, b);
  }

  async sequential(): Promise<void> {
    const { opts } = this.env;
    const f = path.join(this.t.root, 'seq.dat');
    const mib = opts.size / MiB;
    const tmo = timeoutFor(opts.size);
    const ids = ['seqwrite', 'seqread_cold', 'seqread_warm', 'randread'];
    try {
      let s0 = await this.snapshot();
      // Rep -1 is an untimed warm-up: the first write after a target switch was
      // consistently 3-4x slower than the next ones (block allocation after the
      // previous target's deletes and discards), on every target alike.
      for (let i = -1; i < opts.reps; i++) {
        await this.sh('rm', ['-f', f]);
        await syncAll();
        this.check();
        const r = await runOk('dd', ['if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, 'conv=fsync'], { timeoutMs: tmo });
        const s = ddSeconds(r);
        if (i >= 0) this.record('seqwrite', mib / s, { seconds: s, wall: r.seconds }, i, ROWS.seqwrite);
        else log(`  [${this.t.key}] ${ROWS.seqwrite.label}: warm-up (not counted): ${fmtNum(mib / s)} MiB/s`);
      }
      let s1 = await this.snapshot();
      this.count('seqwrite', s0, s1);

      for (let i = 0; i < opts.reps; i++) {
        await dropCaches();
        this.check();
        const r = await runOk('dd', [`if=${f}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: tmo });
        const s = ddSeconds(r);
        this.record('seqread_cold', mib / s, { seconds: s, wall: r.seconds }, i, ROWS.seqread_cold);
      }
      s0 = await this.snapshot();
      this.count('seqread_cold', s1, s0);

      for (let i = 0; i < opts.reps; i++) {
        await this.sh('dd', [`if=${f}`, 'of=/dev/null', 'bs=1M'], tmo);
        this.check();
        const r = await runOk('dd', [`if=${f}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: tmo });
        const s = ddSeconds(r);
        this.record('seqread_warm', mib / s, { seconds: s, wall: r.seconds }, i, ROWS.seqread_warm);
      }
      s1 = await this.snapshot();
      this.count('seqread_warm', s0, s1);

      for (let i = 0; i < opts.reps; i++) {
        await dropCaches();
        this.check();
        if (this.env.fio) {
          const r = await runOk(
            'fio',
            ['--name=randread', `--filename=${f}`, '--rw=randread', '--bs=4k', `--size=${opts.size}`, `--runtime=${opts.runtime}`, '--time_based',
              // Caches were just dropped for every target alike, so no per-file invalidate. No fadvise hint either:
              // fio's default POSIX_FADV_RANDOM turns readahead off on ext4, but a passthrough file's hint does
              // not reach its backing file, which made passthrough look 40x faster than the source itself.
              '--direct=0', '--ioengine=psync', '--invalidate=0', '--fadvise_hint=0', '--numjobs=1', '--output-format=json'],
            { timeoutMs: opts.runtime * 1000 + 180_000, captureStdout: true },
          );
          const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: { read: { iops: number; io_bytes: number; runtime: number } }[] };
          const rd = json.jobs[0]?.read;
          if (!rd) throw new ToolError('fio printed no read result');
          this.record('randread', rd.iops, { iops: rd.iops, bytes: rd.io_bytes, ms: rd.runtime }, i, ROWS.randread);
        } else {
          const o = await this.tool(['randread', f, '4096', String(opts.runtime)], opts.runtime * 1000 + 180_000);
          this.record('randread', o.ops / o.seconds, o, i, ROWS.randread);
        }
      }
      s0 = await this.snapshot();
      this.count('randread', s1, s0);
    } catch (err) {
      if (err instanceof Aborted) throw err;
      this.fail(ids, err);
    } finally {
      if (!shuttingDown && (!this.mirror || this.mirror.healthy())) await run('rm', ['-f', f], { timeoutMs: 120_000 });
    }
  }

  async metadata(): Promise<void> {
    const { opts } = this.env;
    const n = opts.files;
    const tmo = 120_000 + n * 20;
    const ids = ['create', 'stat_cold', 'stat_warm', 'unlink'];
    for (let i = 0; i < opts.reps; i++) {
      const d = path.join(this.t.root, `files.${i}`);
      try {
        await this.sh('mkdir', [d]);
        await syncAll();
        let o = await this.tool(['create', d, String(n)], tmo);
        this.record('create', o.ops / o.seconds, o, i, ROWS.create);
        await dropCaches();
        o = await this.tool(['stat', d, String(n)], tmo);
        this.record('stat_cold', o.ops / o.seconds, o, i, ROWS.stat_cold);
        o = await this.tool(['stat', d, String(n)], tmo);
        this.record('stat_warm', o.ops / o.seconds, o, i, ROWS.stat_warm);
        o = await this.tool(['unlink', d, String(n)], tmo);
        this.record('unlink', o.ops / o.seconds, o, i, ROWS.unlink);
        await this.sh('rmdir', [d]);
      } catch (err) {
        if (err instanceof Aborted) throw err;
        this.fail(ids, err);
        if (!shuttingDown && (!this.mirror || this.mirror.healthy())) await run('rm', ['-rf', d], { timeoutMs: tmo });
        return;
      }
    }
  }

  async tree(): Promise<void> {
    const { opts, tarball } = this.env;
    const ids = ['untar', 'find', 'rmrf'];
    for (let i = 0; i < opts.reps; i++) {
      const d = path.join(this.t.root, `tree.${i}`);
      try {
        await this.sh('mkdir', [d]);
        await syncAll();
        let r = await this.sh('tar', ['-xf', tarball, '-C', d], 600_000);
        this.record('untar', r.seconds, { seconds: r.seconds }, i, ROWS.untar);
        r = await this.sh('find', [d], 600_000);
        this.record('find', r.seconds, { seconds: r.seconds }, i, ROWS.find);
        r = await this.sh('rm', ['-rf', d], 600_000);
        this.record('rmrf', r.seconds, { seconds: r.seconds }, i, ROWS.rmrf);
      } catch (err) {
        if (err instanceof Aborted) throw err;
        this.fail(ids, err);
        if (!shuttingDown && (!this.mirror || this.mirror.healthy())) await run('rm', ['-rf', d], { timeoutMs: 600_000 });
        return;
      }
    }
  }

  async all(): Promise<void> {
    await this.sequential();
    if (this.mirror && !this.mirror.healthy()) return;
    await this.metadata();
    if (this.mirror && !this.mirror.healthy()) return;
    await this.tree();
  }
}

let ROWS: Record<string, RowDef> = {};

function defineRows(env: Env): RowDef[] {
  const { opts, tree } = env;
  const size = `${fmtNum(opts.size / MiB)} MiB`;
  const randTool = env.fio ? `fio psync` : env.tool.kind === 'c' ? 'C pread loop' : 'Node pread loop';
  const defs: RowDef[] = [
    { id: 'seqwrite', label: `seq write ${size} + fsync (dd 1M)`, unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'seqread_cold', label: 'seq read, cold cache (dd 1M)', unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'seqread_warm', label: 'seq read, warm (2nd read)', unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'randread', label: `rand read 4K, cold start, ${opts.runtime} s (${randTool})`, unit: 'IOPS', kind: 'rate', counted: true },
    { id: 'create', label: `create ${fmtNum(opts.files)} empty files`, unit: 'files/s', kind: 'rate' },
    { id: 'stat_cold', label: 'stat them, cold cache', unit: 'files/s', kind: 'rate' },
    { id: 'stat_warm', label: 'stat them, warm', unit: 'files/s', kind: 'rate' },
    { id: 'unlink', label: 'unlink them', unit: 'files/s', kind: 'rate' },
    { id: 'untar', label: `untar ${fmtNum(tree.tarBytes / MiB)} MiB (${fmtNum(tree.files)} files, ${fmtNum(tree.dirs)} dirs)`, unit: 's', kind: 'duration' },
    { id: 'find', label: 'find over the tree', unit: 's', kind: 'duration' },
    { id: 'rmrf', label: 'rm -rf the tree', unit: 's', kind: 'duration' },
    { id: 'rss', label: 'server peak RSS (VmHWM)', unit: 'MiB', kind: 'memory' },
  ];
  ROWS = Object.fromEntries(defs.map((d) => [d.id, d]));
  return defs;
}

// ---------------------------------------------------------------------------
// One target

/** Records FUSE mounts that are not ours (someone else's servers compete for the CPUs). */
function noteDisturbance(env: Env, when: string): void {
  const dir = env.opts.dir;
  const fuse = fuseMountPoints().filter((m) => !(m === dir || m.startsWith(dir + '/')));
  if (fuse.length) {
    env.disturbance.push(
      `at ${when === 'end' ? 'the end' : `the start of ${when}`}: ${fuse.length} other FUSE mount${fuse.length > 1 ? 's' : ''} ` +
        `(${fuse.slice(0, 2).join(', ')}${fuse.length > 2 ? ', ...' : ''})`,
    );
  }
}

/** Share of CPU time not idle over `ms`, machine-wide (sampled before any workload runs). */
async function busyShare(ms: number): Promise<number> {
  const sample = () => {
    const f = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = sample();
  await sleep(ms);
  const b = sample();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

function cleanDirContents(dir: string): void {
  if (mountAt(dir)) return; // never reach into a mount from here
  for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

async function startMirror(env: Env, t: TargetState, mnt: string): Promise<Mirror | undefined> {
  const statsFile = path.join(env.work, `stats-${t.key}.json`);
  const wanted = ['--passthrough', t.mode ?? 'never'];
  guard();
  let args = wanted;
  let res = await Mirror.start(env.opts.cli, env.src, mnt, statsFile, args);
  if (!res.ok && res.unknownOption) {
    // Kept on purpose for fusekit builds without --passthrough; always reported in the table header.
    log(`  [${t.key}] WARNING: this fusekit rejected '--passthrough ${t.mode}' (${res.message}); running the mirror WITHOUT the flag`);
    t.flagRejected = true;
    guard();
    args = [];
    res = await Mirror.start(env.opts.cli, env.src, mnt, statsFile, args);
  }
  if (!res.ok) {
    t.error = `mirror did not start with '${['mirror', 'SRC', 'MNT', ...args].join(' ')}': ${res.message}`;
    log(`  [${t.key}] ${t.error}`);
    return undefined;
  }
  t.mirrorArgs = args;
  liveMirrors.add(res.mirror);
  // The start-up line (it names the passthrough mode) may trail the mount by a moment.
  for (let i = 0; i < 40 && !res.mirror.stderr().includes('\n'); i++) await sleep(25);
  t.startMessage = res.mirror.stderr().trim();
  log(`  [${t.key}] server pid ${res.mirror.pid}: ${t.startMessage.split('\n')[0] ?? ''}`);
  return res.mirror;
}

async function runTarget(env: Env, t: TargetState): Promise<void> {
  const started = Date.now();
  log(`\n== ${t.title} (${t.root})`);
  let mirror: Mirror | undefined;
  try {
    if (t.mode) {
      mirror = await startMirror(env, t, t.root);
      if (!mirror) return;
    }
    const runner = new Runner(env, t, mirror);
    await runner.all();
    if (mirror) {
      const last = await statsAfter(mirror.statsFile, Date.now());
      t.totalRequests = last?.requests;
      t.peakRssKiB = mirror.peakRssKiB();
      if (t.peakRssKiB !== undefined) t.rows['rss'] = { reps: [t.peakRssKiB / 1024], median: t.peakRssKiB / 1024, raw: [{ VmHWM_kB: t.peakRssKiB }] };
    }
  } finally {
    if (mirror) {
      t.stop = await mirror.stop();
      liveMirrors.delete(mirror);
      const how = t.stop.forced ? 'had to be aborted/detached' : `exited with code ${t.stop.code}`;
      log(`  [${t.key}] server stopped: ${how}`);
      if (!t.stop.forced && t.stop.code !== 0) t.error ??= `server exited with code ${t.stop.code} on SIGTERM`;
      if (mountAt(t.root)) forceUnmount(t.root);
      cleanDirContents(t.root); // anything that landed in the bare mountpoint
    }
    cleanDirContents(env.src);
    t.seconds = (Date.now() - started) / 1000;
  }
  for (const r of Object.values(t.rows)) r.median = median(r.reps);
}

// ---------------------------------------------------------------------------
// The table

function pad(s: string, w: number, right: boolean): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

function ratio(def: RowDef, src: number | undefined, v: number | undefined): string {
  if (def.kind === 'memory' || src === undefined || v === undefined || v === 0 || src === 0) return '';
  const r = def.kind === 'duration' ? src / v : v / src;
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}x`;
}

function cell(t: TargetState, def: RowDef): string {
  const r = t.rows[def.id];
  if (def.kind === 'memory' && t.key === 'source') return '-';
  if (r?.median !== undefined) return fmtValue(r.median, def) + (r.error ? ' *' : '');
  if (r?.error || t.error) return 'failed';
  return 'n/a';
}

function rwCell(t: TargetState, def: RowDef): string {
  if (!def.counted) return '';
  if (!(def.id in t.requests)) return '';
  const d = t.requests[def.id];
  if (!d) return '?';
  return `R=${fmtNum(d['READ'] ?? 0)} W=${fmtNum(d['WRITE'] ?? 0)}`;
}

function render(env: Env, targets: Record<TargetKey, TargetState>, defs: RowDef[], totalSeconds: number): string {
  const { opts } = env;
  const src = targets.source;
  const pt = targets.pt;
  const np = targets.nopt;
  const lines: string[] = [];
  const uname = os.release();
  lines.push(`fusekit bench: Linux ${uname}, ${os.cpus().length} CPUs, Node ${process.version}; baseline ${env.src}`);
  lines.push(
    `file ${fmtNum(opts.size / MiB)} MiB, ${fmtNum(opts.files)} files, tree from ${env.tree.from}, ` +
      `${opts.reps} rep${opts.reps > 1 ? 's' : ''} per workload (median)${opts.quick ? ' [--quick]' : ''}`,
  );
  lines.push(`random reads: ${env.fio ? `${env.fio}, --ioengine=psync --direct=0 --invalidate=0 --fadvise_hint=0 (readahead as usual), after drop_caches` : `${env.tool.describe}, pread at random 4 KiB-aligned offsets, after drop_caches`}`);
  if (!env.fio) lines.push('NOTE: fio is not installed; `apt-get install fio` gives the fio-based random-read row (this run used the built-in fallback).');
  const modeLine = (t: TargetState) => {
    if (t.error && !t.mirrorArgs) return `${t.title}: NOT RUN (${t.error})`;
    if (t.flagRejected) return `${t.title}: WARNING: this fusekit rejects --passthrough (exit 2 "unknown option"); ran WITHOUT the flag, so this column is NOT ${t.mode === 'always' ? 'passthrough' : 'an explicit no-passthrough run'}`;
    return `${t.title}: ran with ${t.mirrorArgs?.join(' ') ?? '?'} (accepted)`;
  };
  lines.push(`passthrough modes: ${modeLine(pt)}`);
  lines.push(`                   ${modeLine(np)}`);
  if (pt.flagRejected && np.flagRejected) lines.push('WARNING: both mirror columns measured the same (default) mirror; passthrough was NOT measured.');
  lines.push('');

  const ptHead = pt.flagRejected ? 'mirror pt (FLAG REJECTED)' : 'mirror --passthrough always';
  const npHead = np.flagRejected ? 'mirror (FLAG REJECTED)' : 'mirror --passthrough never';
  const header = ['workload', 'source', ptHead, 'ratio', npHead, 'ratio', 'pt READ/WRITE reqs'];
  const rows: string[][] = [header];
  for (const def of defs) {
    rows.push([
      def.label,
      cell(src, def),
      cell(pt, def),
      ratio(def, src.rows[def.id]?.median, pt.rows[def.id]?.median),
      cell(np, def),
      ratio(def, src.rows[def.id]?.median, np.rows[def.id]?.median),
      rwCell(pt, def),
    ]);
  }
  const widths = header.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const fmtRow = (r: string[]) => r.map((s, c) => pad(s, widths[c] ?? 0, c > 0 && c < 6)).join('  ').trimEnd();
  lines.push(fmtRow(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) lines.push(fmtRow(r));
  lines.push('');
  lines.push('ratio = mirror throughput / source throughput (for the s rows: source time / mirror time); higher is better.');
  const npCounts = defs
    .filter((d) => d.counted && np.requests[d.id])
    .map((d) => `${d.id} ${rwCell(np, d)}`)
    .join(', ');
  lines.push(
    'pt READ/WRITE reqs: READ and WRITE requests the passthrough mirror\'s server saw during that row (from --stats-file); ' +
      'with passthrough both should be 0.' + (npCounts ? ` Without passthrough, for comparison: ${npCounts}.` : ''),
  );
  if (!pt.flagRejected && pt.mirrorArgs) {
    const leaked = defs.filter((d) => d.counted && ((pt.requests[d.id]?.['READ'] ?? 0) > 0 || (pt.requests[d.id]?.['WRITE'] ?? 0) > 0));
    if (leaked.length) lines.push(`WARNING: the passthrough mirror served data in userspace during: ${leaked.map((d) => d.id).join(', ')}.`);
  }
  lines.push('rand read: caches dropped, then random preads for the whole runtime; the page cache fills as it runs (so source and passthrough speed up, the userspace mirror pays a READ round trip per miss).');
  for (const t of [pt, np]) {
    const slow = (t.rows['stat_cold']?.raw ?? []).map((o) => (o as ToolOutput).seconds).filter((x) => x > 1);
    if (slow.length) {
      lines.push(
        `${t.key}: stat warm: in ${slow.length} of ${t.rows['stat_cold']?.raw.length} reps the cold pass took longer than the mirror's 1 s ` +
          `entry/attr timeout (${slow.map((x) => x.toFixed(2) + ' s').join(', ')}), so the warm pass that follows found those names expired and looked them up again.`,
      );
    }
  }
  if (env.disturbance.length) lines.push(`other activity on the machine during the run (results may be disturbed): ${env.disturbance.join('; ')}`);
  for (const t of [src, pt, np]) {
    const failed = Object.entries(t.rows).filter(([, r]) => r.error);
    for (const [id, r] of failed) lines.push(`${t.key}: ${id}: ${r.error}${r.median !== undefined ? ' (* median of the reps that completed)' : ''}`);
    if (t.error) lines.push(`${t.key}: ${t.error}`);
  }
  const perTarget = [src, pt, np].map((t) => `${t.key} ${(t.seconds ?? 0).toFixed(0)} s`).join(', ');
  lines.push(`total ${Math.floor(totalSeconds / 60)}m${String(Math.round(totalSeconds % 60)).padStart(2, '0')}s (${perTarget})`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const t0 = Date.now();
  let opts: Options | 'help';
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      log(`bench: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    log('bench: must run as root (mounting, drop_caches)');
    return 1;
  }
  if (!fs.existsSync(opts.cli)) {
    log(`bench: ${opts.cli} not found`);
    return 1;
  }
  installSignalHandlers();
  scratchDir = opts.dir;
  keepScratch = opts.keep;
  prepareScratch(opts.dir);
  const work = path.join(opts.dir, 'work');
  const src = path.join(opts.dir, 'src');

  const fio = which('fio', ['--version']);
  if (!fio) log('bench: fio is not installed; `apt-get install fio` gives the fio-based random-read row. Using the built-in fallback.');
  const tool = await loadTool(work);
  log(`bench: load tool: ${tool.describe}; random reads: ${fio ?? 'fallback'}`);
  const tarball = await makeTarball(work, opts.treeBytes);
  log(`bench: tarball ${tarball.path}: ${fmtNum(tarball.tarBytes / MiB, 1)} MiB, ${tarball.files} files, ${tarball.dirs} dirs from ${tarball.from}`);
  const env: Env = { opts, tool, fio, tarball: tarball.path, tree: tarball, src, work, disturbance: [] };
  const defs = defineRows(env);
  const busy = await busyShare(1000);
  log(`bench: machine busy ${(busy * 100).toFixed(0)}% over 1 s before the first workload`);
  if (busy > 0.15) env.disturbance.push(`the CPUs were ${(busy * 100).toFixed(0)}% busy (not idle) in the second before the first workload`);

  const targets: Record<TargetKey, TargetState> = {
    source: { key: 'source', title: 'source', root: src, rows: {}, requests: {} },
    pt: { key: 'pt', title: 'mirror, passthrough', root: path.join(opts.dir, 'mnt-pt'), mode: 'always', rows: {}, requests: {} },
    nopt: { key: 'nopt', title: 'mirror, no passthrough', root: path.join(opts.dir, 'mnt-nopt'), mode: 'never', rows: {}, requests: {} },
  };
  for (const t of Object.values(targets)) {
    guard();
    noteDisturbance(env, t.key);
    await runTarget(env, t);
  }
  noteDisturbance(env, 'end');
  const total = (Date.now() - t0) / 1000;
  const table = render(env, targets, defs, total);
  process.stdout.write('\n' + table);
  if (opts.out) {
    const raw = {
      date: new Date().toISOString(),
      kernel: os.release(),
      cpus: os.cpus().length,
      node: process.version,
      options: { ...opts, sizeMiB: opts.size / MiB },
      loadTool: tool.describe,
      fio: fio ?? null,
      tree: tarball,
      rows: defs,
      targets,
      totalSeconds: total,
      table,
    };
    fs.writeFileSync(opts.out, JSON.stringify(raw, null, 2) + '\n');
    log(`bench: raw results in ${opts.out}`);
  }
  removeScratch();
  const failed = Object.values(targets).some((t) => t.error || Object.values(t.rows).some((r) => r.error));
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Leak check: nothing of ours may stay mounted.
    if (scratchDir && mountsUnder(scratchDir).length > 0) {
      for (const m of mountsUnder(scratchDir)) forceUnmount(m);
    }
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof Aborted) return; // emergencyExit is finishing up
    log(`bench: ${(err as Error)?.stack ?? String(err)}`);
    void emergencyExit('failure', 1);
  },
);
