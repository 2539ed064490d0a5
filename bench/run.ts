/**
 * `npm run bench`: the same workloads on the source filesystem itself, on a
 * `fusekit mirror` with kernel passthrough (`--passthrough always`) and on one
 * without (`--passthrough never`), then one table of medians and of ratios
 * against the source (higher is better).
 *
 *   npm run bench -- [--size 512M] [--files 10000] [--reps 3] [--runtime 10]
 *                    [--warm-runtime 5] [--tree-mb CAP] [--mem-entries 200000]
 *                    [--no-memory] [--no-profile] [--quick] [--out FILE.json]
 *                    [--dir DIR] [--cli PATH] [--reference CLI] [--keep]
 *
 * The targets are interleaved: both mirrors stay mounted for the whole timed
 * part, and for every repetition and every workload the targets run back
 * to back (in an order rotated between repetitions), so a drift in the speed of
 * the underlying filesystem hits all of them alike. The ratio reported is the
 * median of the per-repetition ratios (mirror / source of the same repetition).
 * `--reference CLI` adds a fourth target, another mirror program started the
 * same way (e.g. a wrapper around libfuse's passthrough_hp), interleaved too.
 *
 * Every workload runs in a child process (dd, fio, tar, find, rm, and a small
 * C program compiled at run time, or its Node twin), each with a deadline;
 * the mirrors are separate processes too. Nothing here blocks on a mount.
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
// Targets to meet (passthrough mirror / source, per-repetition ratio, median)

const FLOORS: Record<string, { floor: number; goal: number }> = {
  randread_warm: { floor: 0.92, goal: 0.95 },
  create: { floor: 0.24, goal: 0.3 },
  stat_cold: { floor: 0.13, goal: 0.2 },
  stat_warm: { floor: 1.0, goal: 1.0 },
  unlink: { floor: 0.11, goal: 0.15 },
  untar: { floor: 0.22, goal: 0.3 },
  find_cold: { floor: 0.2, goal: 0.3 },
  find_warm: { floor: 0.13, goal: 0.3 },
  rmrf: { floor: 0.49, goal: 0.6 },
};
/** Peak RSS of a fresh passthrough mirror during `find` over the memory tree. */
const MEM_PEAK_TARGET_MIB = 150;
/** Files per directory in the memory-phase tree. */
const MEM_FILES_PER_DIR = 500;

// ---------------------------------------------------------------------------
// Options

interface Options {
  size: number;
  files: number;
  reps: number;
  runtime: number;
  warmRuntime: number;
  /** Cap on the bytes of regular files taken from /usr/include (undefined: all of it). */
  treeCap?: number;
  memEntries: number;
  memory: boolean;
  profile: boolean;
  quick: boolean;
  out?: string;
  dir: string;
  cli: string;
  /** Another mirror program, run like the fusekit CLI, as a fourth (passthrough) target. */
  reference?: string;
  keep: boolean;
}

const USAGE = `usage: npm run bench -- [options]
  --size N[K|M|G]    sequential file size (default 512M; --quick: 32M)
  --files N          files for create/stat/unlink (default 10000; --quick: 1000)
  --reps N           repetitions; each runs every workload on the three (four) targets
                     back to back, order rotated (default 3; --quick: 2)
  --runtime S        seconds of cold random reads per repetition (default 10; --quick: 2)
  --warm-runtime S   seconds of warm random reads per repetition (default 5; --quick: 1)
  --tree-mb N        cap the tree at the first N MiB of /usr/include (default: no cap,
                     the whole of it; --quick: 8). Meant for --quick only.
  --mem-entries N    files in the memory-phase tree, ${MEM_FILES_PER_DIR} per directory
                     (default 200000; --quick: 10000)
  --no-memory        skip the memory phase
  --no-profile       skip the per-opcode request profile of the passthrough mirror
  --quick            small sizes for a smoke run
  --out FILE         also write the raw results as JSON
  --dir DIR          scratch directory (default /tmp/fusekit-bench; must be on the
                     filesystem you want as the baseline; removed at the end)
  --cli PATH         the fusekit entry point to test (default: this checkout's bin/fusekit)
  --reference CLI    a fourth target: another mirror program, started exactly like the
                     fusekit CLI (node CLI mirror SRC MNT --passthrough always
                     --stats-file F) over DIR/src-ref at DIR/mnt-ref, interleaved with the
                     others; shown as the "reference" column with its own ratio
  --keep             keep DIR (source files and tarball) at the end
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
      case '--no-memory': explicit.memory = false; break;
      case '--no-profile': explicit.profile = false; break;
      case '--size': explicit.size = parseSize(next()); break;
      case '--files': explicit.files = positiveInt(arg, next()); break;
      case '--reps': explicit.reps = positiveInt(arg, next()); break;
      case '--runtime': explicit.runtime = positiveInt(arg, next()); break;
      case '--warm-runtime': explicit.warmRuntime = positiveInt(arg, next()); break;
      case '--tree-mb': explicit.treeCap = positiveInt(arg, next()) * MiB; break;
      case '--mem-entries': explicit.memEntries = positiveInt(arg, next()); break;
      case '--out': explicit.out = path.resolve(next()); break;
      case '--dir': explicit.dir = path.resolve(next()); break;
      case '--cli': explicit.cli = path.resolve(next()); break;
      case '--reference': explicit.reference = path.resolve(next()); break;
      default: throw new UsageError(`unknown option '${arg}'`);
    }
  }
  const common = { quick, memory: true, profile: true, dir: '/tmp/fusekit-bench', cli: path.join(REPO, 'bin', 'fusekit'), keep: false };
  const base: Options = quick
    ? { ...common, size: 32 * MiB, files: 1000, reps: 2, runtime: 2, warmRuntime: 1, treeCap: 8 * MiB, memEntries: 10_000 }
    : { ...common, size: 512 * MiB, files: 10_000, reps: 3, runtime: 10, warmRuntime: 5, treeCap: undefined, memEntries: 200_000 };
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
  floor?: number;
  goal?: number;
}

interface RowResult {
  /** One value per repetition (null: not measured or failed). */
  values: (number | null)[];
  raw: unknown[];
  errors: string[];
  median?: number;
}

type TargetKey = 'source' | 'pt' | 'nopt' | 'ref';
/** The targets of a run: the three fixed ones, plus the reference mirror with --reference. */
type Targets = Record<'source' | 'pt' | 'nopt', TargetState> & { ref?: TargetState };

/** The targets of the run in their base order (rotated per repetition). */
function targetList(targets: Targets): TargetState[] {
  return [targets.source, targets.pt, targets.nopt, ...(targets.ref ? [targets.ref] : [])];
}

interface TargetState {
  key: TargetKey;
  title: string;
  /** Where the workloads run (the source directory itself, or the mountpoint). */
  root: string;
  /** The directory on the baseline filesystem behind `root`. */
  backing: string;
  /** For mirrors: the --passthrough mode asked for. */
  mode?: 'always' | 'never';
  /** For mirrors: the program started as `node CLI mirror ...`. */
  cli?: string;
  /**
   * The --reference mirror: its stats file may carry no request counts, and a
   * non-zero exit on SIGTERM is a note, not a failure of the run.
   */
  reference?: boolean;
  /** Remarks about this target that do not fail the run. */
  notes?: string[];
  /** The extra CLI arguments actually used (after any fallback). */
  mirrorArgs?: string[];
  /** Set when the CLI rejected --passthrough and the mirror ran without it. */
  flagRejected?: boolean;
  startMessage?: string;
  pid?: number;
  rows: Record<string, RowResult>;
  /**
   * Mirrors: request deltas from the stats file per window and repetition. A
   * window runs from the previous snapshot of this mirror to the one taken
   * right after the step (so it includes the step's own sync/drop_caches).
   */
  windows: Record<string, (Record<string, number> | null)[]>;
  peakRssKiB?: number;
  stop?: { code: number | null; signal: NodeJS.Signals | null; forced: boolean };
  error?: string;
  /** Seconds spent in this target's steps (the run is interleaved). */
  seconds: number;
}

interface ProfileResult {
  files: number;
  entries: number;
  /** Per-step request counts (warm, unlink and rm -rf by difference, see the README). */
  steps: Record<string, Record<string, number>>;
  /** The measured windows the steps were computed from. */
  windows: Record<string, Record<string, number>>;
  /** Durations of the profiling pass (untimed for the table; for reference). */
  seconds: Record<string, number>;
  error?: string;
}

interface MemoryResult {
  files: number;
  dirs: number;
  entries: number;
  buildSeconds?: number;
  mirrorArgs?: string[];
  flagRejected?: boolean;
  pid?: number;
  findSeconds?: number;
  findExit?: string;
  rssStartKiB?: number;
  peakKiB?: number;
  rssAfterFindKiB?: number;
  rssAfterDropKiB?: number;
  /** About a second after drop_caches. */
  rssRightAfterDropKiB?: number;
  settleSeconds?: number;
  settled?: boolean;
  fdsStart?: number;
  fdsPeak?: number;
  fdsAfterFind?: number;
  fdsAfterDrop?: number;
  nodesAfterFind?: number;
  nodesAfterDrop?: number;
  findRequests?: Record<string, number>;
  dropRequests?: Record<string, number>;
  errorsDuringFind?: Record<string, number>;
  stop?: { code: number | null; signal: NodeJS.Signals | null; forced: boolean };
  error?: string;
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

interface TreeInfo {
  path: string;
  from: string;
  files: number;
  symlinks: number;
  dirs: number;
  /** Every entry in the tarball: directories (the top one included), files, symlinks. */
  entries: number;
  bytes: number;
  tarBytes: number;
  /** Set when --tree-mb cut the tree short. */
  capped: boolean;
}

interface Env {
  opts: Options;
  tool: LoadTool;
  fio?: string;
  tree: TreeInfo;
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

const SCRATCH_DIRS = ['src-direct', 'src-pt', 'mnt-pt', 'src-nopt', 'mnt-nopt', 'mem-src', 'mem-mnt', 'work'];

function prepareScratch(dir: string, extraDirs: string[] = []): void {
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
  for (const d of [...SCRATCH_DIRS, ...extraDirs]) fs.mkdirSync(path.join(dir, d));
}

/**
 * A tarball of /usr/include (depth-first, sorted), made once per run: the
 * whole directory, or its first `cap` bytes of regular files with --tree-mb.
 */
async function makeTarball(work: string, cap: number | undefined): Promise<TreeInfo> {
  const candidates = ['/usr/include', '/usr/share/doc', path.join(REPO, 'node_modules')];
  const root = candidates.find((c) => {
    try {
      return fs.statSync(c).isDirectory();
    } catch {
      return false;
    }
  });
  if (!root) throw new Error('no directory to make the tarball from (tried /usr/include, /usr/share/doc)');
  const limit = cap ?? Infinity;
  const parent = path.dirname(root);
  const list: string[] = [];
  let bytes = 0;
  let files = 0;
  let symlinks = 0;
  let dirs = 0;
  let capped = false;
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
      if (bytes >= limit) {
        capped = true;
        return false;
      }
      const r = path.join(rel, n);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(path.join(parent, r));
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!walk(r)) return false;
      } else if (st.isFile()) {
        list.push(r);
        files++;
        bytes += st.size;
      } else if (st.isSymbolicLink()) {
        list.push(r);
        symlinks++;
      }
    }
    return true;
  };
  walk(path.basename(root));
  const listFile = path.join(work, 'tree.list');
  fs.writeFileSync(listFile, list.join('\0') + '\0');
  const tarball = path.join(work, 'tree.tar');
  await runOk('tar', ['-cf', tarball, '-C', parent, '--null', '--no-recursion', '-T', listFile], { timeoutMs: 600_000 });
  return { path: tarball, from: root, files, symlinks, dirs, entries: list.length, bytes, tarBytes: fs.statSync(tarball).size, capped };
}

// ---------------------------------------------------------------------------
// Small helpers

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

/**
 * How an idle CPU waits matters more than anything in the server: on a KVM
 * guest whose haltpoll driver does not poll, every FUSE round trip pays two
 * wake-ups of a halted virtual CPU. Printed so a table can be read with it.
 */
function cpuIdleSetting(): string | undefined {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const driver = read('/sys/devices/system/cpu/cpuidle/current_driver');
  if (!driver) return undefined;
  const pollNs = read('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  return pollNs === undefined ? `driver ${driver}` : `driver ${driver}, guest_halt_poll_ns=${pollNs}${pollNs === '0' ? ' (idle vCPUs halt at once: every round trip pays host wake-ups)' : ''}`;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function present(xs: (number | null | undefined)[]): number[] {
  return xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
}

function fmtNum(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtValue(v: number, def: RowDef): string {
  switch (def.kind) {
    case 'duration': return `${v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1)} s`;
    case 'memory': return `${fmtNum(v, v < 10 ? 1 : 0)} MiB`;
    default:
      if (def.unit === 'MiB/s') return `${fmtNum(v, v < 100 ? 1 : 0)} MiB/s`;
      return `${fmtNum(v, 0)} ${def.unit}`;
  }
}

function fmtRatio(r: number): string {
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}x`;
}

function fmtMiB(kib: number | undefined): string {
  return kib === undefined ? '?' : `${fmtNum(kib / 1024, kib < 10 * 1024 ? 1 : 0)} MiB`;
}

function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = ((by % xs.length) + xs.length) % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** Per-opcode a - b, negative differences dropped. */
function subCounts(a: Record<string, number> | undefined, b: Record<string, number> | undefined): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(a ?? {})) {
    const x = v - (b?.[k] ?? 0);
    if (x > 0) d[k] = x;
  }
  return d;
}

function sumCounts(list: (Record<string, number> | null | undefined)[]): Record<string, number> | undefined {
  const got = list.filter((x): x is Record<string, number> => !!x);
  if (got.length === 0) return undefined;
  const d: Record<string, number> = {};
  for (const c of got) for (const [k, v] of Object.entries(c)) d[k] = (d[k] ?? 0) + v;
  return d;
}

function totalCount(c: Record<string, number> | undefined): number {
  return Object.values(c ?? {}).reduce((a, b) => a + b, 0);
}

function procStatus(pid: number): { rssKiB?: number; hwmKiB?: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(s);
    return { rssKiB: rss ? Number(rss[1]) : undefined, hwmKiB: hwm ? Number(hwm[1]) : undefined };
  } catch {
    return {};
  }
}

function fdCount(pid: number): number | undefined {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

function cleanDirContents(dir: string): void {
  if (mountAt(dir)) return; // never reach into a mount from here
  try {
    for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  } catch (err) {
    log(`bench: could not empty ${dir}: ${(err as Error).message}`);
  }
}

/** Records FUSE mounts that are not ours (someone else's servers compete for the CPUs). */
function noteDisturbance(env: Env, when: string): void {
  const dir = env.opts.dir;
  const fuse = fuseMountPoints().filter((m) => !(m === dir || m.startsWith(dir + '/')));
  if (fuse.length) {
    env.disturbance.push(
      `at ${when}: ${fuse.length} other FUSE mount${fuse.length > 1 ? 's' : ''} ` + `(${fuse.slice(0, 2).join(', ')}${fuse.length > 2 ? ', ...' : ''})`,
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

// ---------------------------------------------------------------------------
// Rows

let ROWS: Record<string, RowDef> = {};

function defineRows(env: Env): RowDef[] {
  const { opts, tree } = env;
  const size = `${fmtNum(opts.size / MiB)} MiB`;
  const warmMiB = Math.min(256, opts.size / MiB);
  const randTool = env.fio ? `fio psync` : env.tool.kind === 'c' ? 'C pread loop' : 'Node pread loop';
  const memFiles = Math.ceil(opts.memEntries / MEM_FILES_PER_DIR) * MEM_FILES_PER_DIR;
  const memEntries = memFiles + memFiles / MEM_FILES_PER_DIR + 1;
  const f = (id: string) => FLOORS[id] ?? {};
  const defs: RowDef[] = [
    { id: 'seqwrite', label: `seq write ${size} + fsync (dd 1M)`, unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'seqread_cold', label: 'seq read, cold cache (dd 1M)', unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'seqread_warm', label: 'seq read, warm (2nd read)', unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'randread', label: `rand read 4K, cold start, ${opts.runtime} s (${randTool})`, unit: 'IOPS', kind: 'rate', counted: true },
    { id: 'randread_warm', label: `rand read 4K, warm, ${fmtNum(warmMiB)} MiB cached, ${opts.warmRuntime} s`, unit: 'IOPS', kind: 'rate', counted: true, ...f('randread_warm') },
    { id: 'create', label: `create ${fmtNum(opts.files)} empty files`, unit: 'files/s', kind: 'rate', ...f('create') },
    { id: 'stat_cold', label: 'stat them, cold cache', unit: 'files/s', kind: 'rate', ...f('stat_cold') },
    { id: 'stat_warm', label: 'stat them, warm', unit: 'files/s', kind: 'rate', ...f('stat_warm') },
    { id: 'unlink', label: 'unlink them', unit: 'files/s', kind: 'rate', ...f('unlink') },
    { id: 'untar', label: `untar ${tree.capped ? 'CAPPED ' : ''}${tree.from} (${fmtNum(tree.entries)} entries, ${fmtNum(tree.tarBytes / MiB)} MiB)`, unit: 's', kind: 'duration', ...f('untar') },
    { id: 'find_cold', label: 'find over it, cold cache', unit: 's', kind: 'duration', ...f('find_cold') },
    { id: 'find_warm', label: 'find over it, warm', unit: 's', kind: 'duration', ...f('find_warm') },
    { id: 'rmrf', label: 'rm -rf of it', unit: 's', kind: 'duration', ...f('rmrf') },
    { id: 'rss', label: 'server peak RSS over the timed run (VmHWM)', unit: 'MiB', kind: 'memory' },
  ];
  if (opts.memory) {
    defs.push(
      { id: 'mem_peak', label: `peak RSS, find over ${fmtNum(memEntries)} entries (fresh mirror)`, unit: 'MiB', kind: 'memory' },
      { id: 'mem_after', label: 'RSS after drop_caches (start -> back)', unit: 'MiB', kind: 'memory' },
    );
  }
  ROWS = Object.fromEntries(defs.map((d) => [d.id, d]));
  return defs;
}

function emptyRow(reps: number): RowResult {
  return { values: new Array<number | null>(reps).fill(null), raw: new Array<unknown>(reps).fill(null), errors: [] };
}

// ---------------------------------------------------------------------------
// The interleaved, timed part

class Bench {
  readonly mirrors = new Map<TargetKey, Mirror>();
  private readonly last = new Map<TargetKey, StatsSnapshot | undefined>();
  /** The target order of every repetition. */
  readonly order: TargetKey[][] = [];

  constructor(
    readonly env: Env,
    readonly targets: Targets,
  ) {}

  /** Every target of the run, in base order (source, pt, nopt[, ref]). */
  private get list(): TargetState[] {
    return targetList(this.targets);
  }

  private get reps(): number {
    return this.env.opts.reps;
  }

  usable(t: TargetState): boolean {
    return !t.error && (!t.mode || this.mirrors.has(t.key));
  }

  /** Before every command: never let a workload land in a bare mountpoint directory. */
  private check(t: TargetState): void {
    guard();
    const m = this.mirrors.get(t.key);
    if (t.mode && !m?.healthy()) {
      throw new ToolError(`the mirror server is gone or unmounted (stderr: ${(m?.stderr() ?? '').trim().split('\n').slice(-3).join(' | ')})`);
    }
  }

  private row(t: TargetState, id: string): RowResult {
    return (t.rows[id] ??= emptyRow(this.reps));
  }

  private record(t: TargetState, id: string, rep: number, value: number, raw: unknown): void {
    const r = this.row(t, id);
    r.values[rep] = value;
    r.raw[rep] = raw;
    const def = ROWS[id];
    log(`  r${rep + 1} [${t.key}] ${def?.label ?? id}: ${def ? fmtValue(value, def) : value}`);
  }

  private async tool(t: TargetState, args: string[], timeoutMs: number): Promise<ToolOutput> {
    this.check(t);
    const r = await runOk(this.env.tool.cmd, [...this.env.tool.args, ...args], { timeoutMs, captureStdout: true });
    return JSON.parse(r.stdout.trim()) as ToolOutput;
  }

  private async sh(t: TargetState, cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
    this.check(t);
    return runOk(cmd, args, { timeoutMs });
  }

  /** Starts the request-count chain of a mirror. */
  async baseline(t: TargetState): Promise<void> {
    const m = this.mirrors.get(t.key);
    if (m) this.last.set(t.key, await statsAfter(m.statsFile, Date.now()));
  }

  /** Closes a request-count window of a mirror: the first stats write after now (waits up to ~1 s). */
  private async mark(t: TargetState, window: string, rep: number): Promise<void> {
    const m = this.mirrors.get(t.key);
    if (!m || t.error || !m.isRunning()) return;
    const s = await statsAfter(m.statsFile, Date.now());
    (t.windows[window] ??= new Array<Record<string, number> | null>(this.reps).fill(null))[rep] = statsDelta(this.last.get(t.key), s) ?? null;
    this.last.set(t.key, s);
  }

  /**
   * One step of one target: errors are recorded against `ids` for this
   * repetition; a mirror that died takes its target out of the rest of the run.
   */
  private async step(t: TargetState, rep: number, ids: string[], what: string, fn: () => Promise<void>, cleanup?: () => Promise<unknown>): Promise<void> {
    if (!this.usable(t)) return;
    const t0 = Date.now();
    try {
      await fn();
    } catch (err) {
      if (err instanceof Aborted || shuttingDown) throw new Aborted('interrupted');
      const msg = (err as Error).message;
      for (const id of ids) {
        const r = this.row(t, id);
        if (r.values[rep] === null) r.errors.push(`rep ${rep + 1}: ${msg}`);
      }
      log(`  r${rep + 1} [${t.key}] ${what}: FAILED: ${msg}`);
      const m = this.mirrors.get(t.key);
      if (t.mode && !m?.healthy()) {
        t.error = `the mirror server died or was unmounted during ${what} (rep ${rep + 1}); stderr: ${(m?.stderr() ?? '').trim().split('\n').slice(-3).join(' | ')}`;
        log(`  [${t.key}] ${t.error}; skipping this target from now on`);
      } else if (cleanup) {
        try {
          await cleanup();
        } catch (e) {
          if (e instanceof Aborted || shuttingDown) throw new Aborted('interrupted');
          log(`  [${t.key}] cleanup after the failure failed too: ${(e as Error).message}`);
        }
      }
    } finally {
      t.seconds += (Date.now() - t0) / 1000;
    }
  }

  private seqFile(t: TargetState): string {
    return path.join(t.root, 'seq.dat');
  }

  private async fioOrTool(t: TargetState, f: string, limit: number, runtime: number): Promise<{ iops: number; raw: unknown }> {
    this.check(t);
    if (this.env.fio) {
      const r = await runOk(
        'fio',
        ['--name=randread', `--filename=${f}`, '--rw=randread', '--bs=4k', `--size=${limit}`, `--runtime=${runtime}`, '--time_based',
          // No per-file invalidate: the cold row drops caches itself for every target alike, the warm
          // row wants the cache kept. No fadvise hint either: fio's default POSIX_FADV_RANDOM turns
          // readahead off on ext4, but a passthrough file's hint does not reach its backing file, which
          // made passthrough look 40x faster than the source itself.
          '--direct=0', '--ioengine=psync', '--invalidate=0', '--fadvise_hint=0', '--numjobs=1', '--output-format=json'],
        { timeoutMs: runtime * 1000 + 180_000, captureStdout: true },
      );
      const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: { read: { iops: number; io_bytes: number; runtime: number } }[] };
      const rd = json.jobs[0]?.read;
      if (!rd) throw new ToolError('fio printed no read result');
      return { iops: rd.iops, raw: { iops: rd.iops, bytes: rd.io_bytes, ms: rd.runtime } };
    }
    const o = await this.tool(t, ['randread', f, '4096', String(runtime), String(limit)], runtime * 1000 + 180_000);
    return { iops: o.ops / o.seconds, raw: o };
  }

  /** Untimed: creates seq.dat, so that every timed write rewrites blocks its own file just freed. */
  async warmupWrite(t: TargetState): Promise<void> {
    const { opts } = this.env;
    const f = this.seqFile(t);
    const mib = opts.size / MiB;
    await this.step(t, 0, [], 'warm-up write', async () => {
      this.check(t);
      const r = await runOk('dd', ['if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, 'conv=fsync'], { timeoutMs: timeoutFor(opts.size) });
      log(`  [${t.key}] warm-up write (not counted): ${fmtNum(mib / ddSeconds(r))} MiB/s`);
    });
    await this.mark(t, 'setup', 0);
  }

  /** One dd row: `prepare` (untimed), then dd with `args`, timed by dd itself. */
  private async ddRow(t: TargetState, rep: number, id: string, what: string, prepare: () => Promise<unknown>, args: string[]): Promise<void> {
    const { opts } = this.env;
    await this.step(t, rep, [id], what, async () => {
      await prepare();
      this.check(t);
      const r = await runOk('dd', args, { timeoutMs: timeoutFor(opts.size) });
      const s = ddSeconds(r);
      this.record(t, id, rep, opts.size / MiB / s, { seconds: s, wall: r.seconds });
    });
    await this.mark(t, id, rep);
  }

  seqwrite(t: TargetState, rep: number): Promise<void> {
    const f = this.seqFile(t);
    const mib = this.env.opts.size / MiB;
    return this.ddRow(t, rep, 'seqwrite', 'seq write', async () => {
      await this.sh(t, 'rm', ['-f', f]);
      await syncAll();
    }, ['if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, 'conv=fsync']);
  }

  seqreadCold(t: TargetState, rep: number): Promise<void> {
    const f = this.seqFile(t);
    return this.ddRow(t, rep, 'seqread_cold', 'seq read cold', () => dropCaches(), [`if=${f}`, 'of=/dev/null', 'bs=1M']);
  }

  seqreadWarm(t: TargetState, rep: number): Promise<void> {
    const f = this.seqFile(t);
    const read = [`if=${f}`, 'of=/dev/null', 'bs=1M'];
    return this.ddRow(t, rep, 'seqread_warm', 'seq read warm', () => this.sh(t, 'dd', read, timeoutFor(this.env.opts.size)), read);
  }

  async randreadCold(t: TargetState, rep: number): Promise<void> {
    const { opts } = this.env;
    const f = this.seqFile(t);
    await this.step(t, rep, ['randread'], 'rand read cold', async () => {
      await dropCaches();
      const o = await this.fioOrTool(t, f, opts.size, opts.runtime);
      this.record(t, 'randread', rep, o.iops, o.raw);
    });
    await this.mark(t, 'randread', rep);
  }

  async randreadWarm(t: TargetState, rep: number): Promise<void> {
    const { opts } = this.env;
    const f = this.seqFile(t);
    const warmMiB = Math.min(256, opts.size / MiB);
    await this.step(t, rep, ['randread_warm'], 'rand read warm', async () => {
      // Read the region once (through this target) so all of it is in the page cache; no drop.
      await this.sh(t, 'dd', [`if=${f}`, 'of=/dev/null', 'bs=1M', `count=${warmMiB}`], timeoutFor(warmMiB * MiB));
      const o = await this.fioOrTool(t, f, warmMiB * MiB, opts.warmRuntime);
      this.record(t, 'randread_warm', rep, o.iops, o.raw);
    });
    await this.mark(t, 'randread_warm', rep);
  }

  /** Directories a creating step left for the deleting step of the same target and repetition. */
  private readonly made = new Set<string>();

  private notMade(t: TargetState, rep: number, ids: string[], d: string): boolean {
    if (this.made.has(d) || !this.usable(t)) return false;
    for (const id of ids) this.row(t, id).errors.push(`rep ${rep + 1}: not run: the step that makes ${path.basename(d)} failed`);
    return true;
  }

  /** Creating half: `create` (see timed() for why it runs apart from unlink). */
  async create(t: TargetState, rep: number): Promise<void> {
    const n = this.env.opts.files;
    const tmo = 120_000 + n * 20;
    const d = path.join(t.root, `files.${rep}`);
    await this.step(
      t,
      rep,
      ['create'],
      'create',
      async () => {
        await this.sh(t, 'mkdir', [d]);
        await syncAll();
        const o = await this.tool(t, ['create', d, String(n)], tmo);
        this.record(t, 'create', rep, o.ops / o.seconds, o);
        this.made.add(d);
      },
      () => run('rm', ['-rf', d], { timeoutMs: tmo }),
    );
    await this.mark(t, 'create', rep);
  }

  /** Deleting half: stat cold, stat warm and unlink of that repetition's files, back to back. */
  async statUnlink(t: TargetState, rep: number): Promise<void> {
    const n = this.env.opts.files;
    const tmo = 120_000 + n * 20;
    const d = path.join(t.root, `files.${rep}`);
    const ids = ['stat_cold', 'stat_warm', 'unlink'];
    if (this.notMade(t, rep, ids, d)) return;
    await this.step(
      t,
      rep,
      ids,
      'stat/unlink',
      async () => {
        await dropCaches();
        let o = await this.tool(t, ['stat', d, String(n)], tmo);
        this.record(t, 'stat_cold', rep, o.ops / o.seconds, o);
        o = await this.tool(t, ['stat', d, String(n)], tmo);
        this.record(t, 'stat_warm', rep, o.ops / o.seconds, o);
        o = await this.tool(t, ['unlink', d, String(n)], tmo);
        this.record(t, 'unlink', rep, o.ops / o.seconds, o);
        await this.sh(t, 'rmdir', [d]);
      },
      () => run('rm', ['-rf', d], { timeoutMs: tmo }),
    );
    await this.mark(t, 'stat_unlink', rep);
  }

  /** Creating half: untar of the tree. */
  async untar(t: TargetState, rep: number): Promise<void> {
    const { tree } = this.env;
    const d = path.join(t.root, `tree.${rep}`);
    const tmo = 900_000;
    await this.step(
      t,
      rep,
      ['untar'],
      'untar',
      async () => {
        await this.sh(t, 'mkdir', [d]);
        // An earlier drop_caches may have evicted the tarball: read it back so untar does not time the disk.
        await runOk('dd', [`if=${tree.path}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: timeoutFor(tree.tarBytes) });
        await syncAll();
        const r = await this.sh(t, 'tar', ['-xf', tree.path, '-C', d], tmo);
        this.record(t, 'untar', rep, r.seconds, { seconds: r.seconds });
        this.made.add(d);
        await syncAll(); // untimed, for every target: the untar's request window then includes its writeback
      },
      () => run('rm', ['-rf', d], { timeoutMs: tmo }),
    );
    await this.mark(t, 'untar', rep);
  }

  /** Deleting half: find cold, find warm and rm -rf of that repetition's tree, back to back. */
  async findRm(t: TargetState, rep: number): Promise<void> {
    const d = path.join(t.root, `tree.${rep}`);
    const tmo = 900_000;
    const ids = ['find_cold', 'find_warm', 'rmrf'];
    if (this.notMade(t, rep, ids, d)) return;
    await this.step(
      t,
      rep,
      ids,
      'find/rm -rf',
      async () => {
        await dropCaches();
        let r = await this.sh(t, 'find', [d], tmo);
        this.record(t, 'find_cold', rep, r.seconds, { seconds: r.seconds });
        r = await this.sh(t, 'find', [d], tmo);
        this.record(t, 'find_warm', rep, r.seconds, { seconds: r.seconds });
        r = await this.sh(t, 'rm', ['-rf', d], tmo);
        this.record(t, 'rmrf', rep, r.seconds, { seconds: r.seconds });
      },
      () => run('rm', ['-rf', d], { timeoutMs: tmo }),
    );
    await this.mark(t, 'find_rm', rep);
  }

  /**
   * Two passes over the repetitions, each workload on all targets back
   * to back in the repetition's rotated order. The first pass runs every step
   * that creates files, the second every bulk deletion. The baseline here is
   * ext4 without a journal, whose inode allocator skips (at a buffer lookup
   * each) the free inodes deleted in the last 60-360 s. A create or untar
   * after a few tens of thousands of deletions then costs several times more
   * kernel time, whatever the target (see bench/README.md). drop_caches does
   * not clear that, and waiting it out would cost minutes.
   */
  async timed(): Promise<void> {
    type Group = (t: TargetState, rep: number) => Promise<void>;
    const creating: Group[] = [
      (t, r) => this.seqwrite(t, r),
      (t, r) => this.seqreadCold(t, r),
      (t, r) => this.seqreadWarm(t, r),
      (t, r) => this.randreadCold(t, r),
      (t, r) => this.randreadWarm(t, r),
      (t, r) => this.create(t, r),
      (t, r) => this.untar(t, r),
    ];
    const deleting: Group[] = [(t, r) => this.statUnlink(t, r), (t, r) => this.findRm(t, r)];
    log('\n== set-up: one untimed write of the sequential file per target');
    for (const t of this.list) await this.warmupWrite(t);
    for (const [half, groups] of [['creating', creating], ['deleting', deleting]] as const) {
      for (let rep = 0; rep < this.reps; rep++) {
        guard();
        const order = rotate(this.list, rep);
        if (half === 'creating') this.order.push(order.map((t) => t.key));
        noteDisturbance(this.env, `the start of repetition ${rep + 1} (${half} pass)`);
        log(`\n== repetition ${rep + 1}/${this.reps}, ${half} pass, order: ${order.map((t) => t.key).join(', ')}`);
        for (const fn of groups) {
          for (const t of order) {
            guard();
            await fn(t, rep);
          }
        }
      }
      if (half === 'creating') {
        for (const t of this.list) {
          if (this.usable(t) && (!t.mode || this.mirrors.get(t.key)?.healthy())) await run('rm', ['-f', this.seqFile(t)], { timeoutMs: 120_000 });
        }
      }
    }
  }

  /**
   * Untimed pass on one mirror that splits the requests by step. A snapshot
   * of the stats file costs up to a second, which would let the 1 s entry and
   * attribute timeouts run out between a cold and a warm pass; so the warm
   * pass, unlink and rm -rf are measured as prefixes (cold; cold+warm;
   * cold+warm+unlink) each after its own drop_caches, and taken by difference.
   */
  async profile(t: TargetState): Promise<ProfileResult | undefined> {
    const m = this.mirrors.get(t.key);
    if (!m || !this.usable(t)) return undefined;
    const { opts, tree } = this.env;
    const n = opts.files;
    const res: ProfileResult = { files: n, entries: tree.entries, steps: {}, windows: {}, seconds: {} };
    const snap = async (): Promise<StatsSnapshot> => {
      const s = await statsAfter(m.statsFile, Date.now());
      if (!s) throw new ToolError('the mirror wrote no stats file within 5 s');
      return s;
    };
    const win = (name: string, a: StatsSnapshot, b: StatsSnapshot) => (res.windows[name] = statsDelta(a, b) ?? {});
    const timedTool = async (label: string, args: string[]) => {
      const o = await this.tool(t, args, 120_000 + n * 20);
      res.seconds[label] = o.seconds;
    };
    const timedSh = async (label: string, cmd: string, args: string[]) => {
      const r = await this.sh(t, cmd, args, 900_000);
      res.seconds[label] = r.seconds;
    };
    const fd = path.join(t.root, 'profile.files');
    const td = path.join(t.root, 'profile.tree');
    log(`\n== request profile of the ${t.title} mirror (untimed)`);
    try {
      await this.sh(t, 'mkdir', [fd]);
      await dropCaches();
      const s0 = await snap();
      await timedTool('create', ['create', fd, String(n)]);
      const s1 = await snap();
      await dropCaches();
      await timedTool('stat_cold', ['stat', fd, String(n)]);
      const s2 = await snap();
      await dropCaches();
      await timedTool('stat_cold_2', ['stat', fd, String(n)]);
      await timedTool('stat_warm', ['stat', fd, String(n)]);
      const s3 = await snap();
      await dropCaches();
      await timedTool('stat_cold_3', ['stat', fd, String(n)]);
      await timedTool('stat_warm_2', ['stat', fd, String(n)]);
      await timedTool('unlink', ['unlink', fd, String(n)]);
      const s4 = await snap();
      await this.sh(t, 'rmdir', [fd]);
      const create = win('create', s0, s1);
      const cold = win('drop+stat cold', s1, s2);
      const coldWarm = win('drop+stat cold+stat warm', s2, s3);
      const coldWarmUnlink = win('drop+stat cold+stat warm+unlink', s3, s4);
      res.steps['create'] = create;
      res.steps['stat_cold'] = cold;
      res.steps['stat_warm'] = subCounts(coldWarm, cold);
      res.steps['unlink'] = subCounts(coldWarmUnlink, coldWarm);

      await this.sh(t, 'mkdir', [td]);
      await dropCaches();
      await runOk('dd', [`if=${tree.path}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: timeoutFor(tree.tarBytes) });
      const u0 = await snap();
      await timedSh('untar', 'tar', ['-xf', tree.path, '-C', td]);
      await syncAll();
      const u1 = await snap();
      await dropCaches();
      await timedSh('find_cold', 'find', [td]);
      const u2 = await snap();
      await dropCaches();
      await timedSh('find_cold_2', 'find', [td]);
      await timedSh('find_warm', 'find', [td]);
      const u3 = await snap();
      await dropCaches();
      await timedSh('find_cold_3', 'find', [td]);
      await timedSh('find_warm_2', 'find', [td]);
      await timedSh('rmrf', 'rm', ['-rf', td]);
      const u4 = await snap();
      const untar = win('untar+sync', u0, u1);
      const fcold = win('drop+find cold', u1, u2);
      const fcw = win('drop+find cold+find warm', u2, u3);
      const fcwr = win('drop+find cold+find warm+rm -rf', u3, u4);
      res.steps['untar'] = untar;
      res.steps['find_cold'] = fcold;
      res.steps['find_warm'] = subCounts(fcw, fcold);
      res.steps['rmrf'] = subCounts(fcwr, fcw);
    } catch (err) {
      if (err instanceof Aborted || shuttingDown) throw new Aborted('interrupted');
      res.error = (err as Error).message;
      log(`  [${t.key}] profile FAILED: ${res.error}`);
      if (m.healthy()) {
        await run('rm', ['-rf', fd, td], { timeoutMs: 900_000 });
      } else {
        t.error ??= `the mirror server died or was unmounted during the request profile; stderr: ${m.stderr().trim().split('\n').slice(-3).join(' | ')}`;
      }
    }
    return res;
  }
}

// ---------------------------------------------------------------------------
// Mirrors

async function startMirror(cli: string, src: string, mnt: string, statsFile: string, mode: 'always' | 'never', tag: string): Promise<
  { ok: true; mirror: Mirror; args: string[]; flagRejected: boolean; message: string } | { ok: false; message: string }
> {
  guard();
  let args = ['--passthrough', mode];
  let flagRejected = false;
  let res = await Mirror.start(cli, src, mnt, statsFile, args);
  if (!res.ok && res.unknownOption) {
    // Kept on purpose for fusekit builds without --passthrough; always reported in the table header.
    log(`  [${tag}] WARNING: this fusekit rejected '--passthrough ${mode}' (${res.message}); running the mirror WITHOUT the flag`);
    flagRejected = true;
    guard();
    args = [];
    res = await Mirror.start(cli, src, mnt, statsFile, args);
  }
  if (!res.ok) return { ok: false, message: `mirror did not start with '${['mirror', src, mnt, ...args].join(' ')}': ${res.message}` };
  liveMirrors.add(res.mirror);
  // The start-up line (it names the passthrough mode) may trail the mount by a moment.
  for (let i = 0; i < 40 && !res.mirror.stderr().includes('\n'); i++) await sleep(25);
  const message = res.mirror.stderr().trim();
  log(`  [${tag}] server pid ${res.mirror.pid}: ${message.split('\n')[0] ?? ''}`);
  return { ok: true, mirror: res.mirror, args, flagRejected, message };
}

async function stopMirror(m: Mirror, mnt: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
  const stop = await m.stop();
  liveMirrors.delete(m);
  if (mountAt(mnt)) forceUnmount(mnt);
  cleanDirContents(mnt); // anything that landed in the bare mountpoint
  return stop;
}

// ---------------------------------------------------------------------------
// Memory phase: a fresh passthrough mirror over a big tree

async function memoryPhase(env: Env): Promise<MemoryResult> {
  const { opts, tool, work } = env;
  const dirs = Math.ceil(opts.memEntries / MEM_FILES_PER_DIR);
  const res: MemoryResult = { files: dirs * MEM_FILES_PER_DIR, dirs, entries: dirs * (MEM_FILES_PER_DIR + 1) + 1 };
  const src = path.join(opts.dir, 'mem-src');
  const mnt = path.join(opts.dir, 'mem-mnt');
  log(`\n== memory phase: ${fmtNum(res.files)} empty files in ${fmtNum(dirs)} directories, fresh passthrough mirror`);
  let mirror: Mirror | undefined;
  try {
    await dropCaches(); // untimed build; starts from clean caches (it follows the timed part's deletions, see timed())
    const built = await runOk(tool.cmd, [...tool.args, 'mktree', src, String(dirs), String(MEM_FILES_PER_DIR)], { timeoutMs: 900_000, captureStdout: true });
    res.buildSeconds = (JSON.parse(built.stdout.trim()) as ToolOutput).seconds;
    log(`  tree built in ${res.buildSeconds.toFixed(1)} s`);
    await syncAll();
    const started = await startMirror(opts.cli, src, mnt, path.join(work, 'stats-mem.json'), 'always', 'mem');
    if (!started.ok) throw new ToolError(started.message);
    mirror = started.mirror;
    res.mirrorArgs = started.args;
    res.flagRejected = started.flagRejected;
    res.pid = mirror.pid;
    const pid = mirror.pid;
    await sleep(1000);
    const s0 = await statsAfter(mirror.statsFile, Date.now());
    res.rssStartKiB = procStatus(pid).rssKiB;
    res.fdsStart = fdCount(pid);
    let fdsPeak = res.fdsStart ?? 0;
    const sampler = setInterval(() => {
      const n = fdCount(pid);
      if (n !== undefined && n > fdsPeak) fdsPeak = n;
    }, 500);
    guard();
    if (!mirror.healthy()) throw new ToolError('the memory mirror is gone or unmounted before the find');
    let r: RunResult;
    try {
      r = await run('find', [mnt], { timeoutMs: 900_000 });
    } finally {
      clearInterval(sampler);
    }
    res.findSeconds = r.seconds;
    res.findExit = r.timedOut ? 'timed out' : r.code === 0 ? '0' : `${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`;
    if (res.findExit !== '0') res.error = `find over the mirror failed (exit ${res.findExit}); the figures below are for an incomplete walk`;
    const afterFind = procStatus(pid);
    res.peakKiB = afterFind.hwmKiB;
    res.rssAfterFindKiB = afterFind.rssKiB;
    res.fdsAfterFind = fdCount(pid);
    res.fdsPeak = Math.max(fdsPeak, res.fdsAfterFind ?? 0);
    const s1 = await statsAfter(mirror.statsFile, Date.now());
    res.findRequests = statsDelta(s0, s1);
    res.errorsDuringFind = s1?.errors && s0?.errors ? subCounts(s1.errors, s0.errors) : s1?.errors;
    res.nodesAfterFind = s1?.nodes;
    log(`  find: ${r.seconds.toFixed(1)} s (exit ${res.findExit}); RSS start ${fmtMiB(res.rssStartKiB)}, peak ${fmtMiB(res.peakKiB)}, fds peak ${res.fdsPeak}`);
    guard();
    await runOk('sh', ['-c', 'echo 2 > /proc/sys/vm/drop_caches'], { timeoutMs: 180_000 });
    // The kernel's FORGETs close descriptors at once; V8 gives the heap back
    // when its memory reducer runs (tens of seconds when idle). Poll until the
    // RSS is back within 10 MiB of where it started, for at most 60 s.
    const t0 = Date.now();
    const start = res.rssStartKiB ?? 0;
    res.settled = false;
    while (Date.now() - t0 < 60_000) {
      await sleep(500);
      const rss = procStatus(pid).rssKiB;
      if (rss === undefined) break;
      if (res.rssRightAfterDropKiB === undefined && Date.now() - t0 >= 1000) res.rssRightAfterDropKiB = rss;
      if (rss <= start + 10 * 1024) {
        res.settled = true;
        break;
      }
    }
    res.settleSeconds = (Date.now() - t0) / 1000;
    res.rssAfterDropKiB = procStatus(pid).rssKiB;
    res.fdsAfterDrop = fdCount(pid);
    const s2 = await statsAfter(mirror.statsFile, Date.now());
    res.dropRequests = statsDelta(s1, s2);
    res.nodesAfterDrop = s2?.nodes;
    log(`  after drop_caches: RSS ${fmtMiB(res.rssRightAfterDropKiB)} after 1 s, ${fmtMiB(res.rssAfterDropKiB)} ${res.settled ? 'back within 10 MiB of the start' : 'not back'} after ${res.settleSeconds.toFixed(1)} s; fds ${res.fdsAfterDrop}`);
  } catch (err) {
    if (err instanceof Aborted || shuttingDown) throw new Aborted('interrupted');
    res.error ??= (err as Error).message;
    log(`  memory phase FAILED: ${(err as Error).message}`);
  } finally {
    if (mirror) {
      res.stop = await stopMirror(mirror, mnt);
      if (!res.stop.forced && res.stop.code !== 0) res.error ??= `server exited with code ${res.stop.code} on SIGTERM`;
    }
    if (!mountAt(mnt)) await run('rm', ['-rf', src], { timeoutMs: 900_000 }).then(() => fs.mkdirSync(src, { recursive: true }));
  }
  return res;
}

// ---------------------------------------------------------------------------
// Ratios and the table

function repRatios(def: RowDef, src: TargetState, t: TargetState): (number | null)[] {
  const s = src.rows[def.id]?.values ?? [];
  const v = t.rows[def.id]?.values ?? [];
  return s.map((sv, i) => {
    const tv = v[i];
    if (sv === null || tv === null || tv === undefined || sv <= 0 || tv <= 0) return null;
    return def.kind === 'duration' ? sv / tv : tv / sv;
  });
}

function medianRatio(def: RowDef, src: TargetState, t: TargetState): number | undefined {
  if (def.kind === 'memory') return undefined;
  return median(present(repRatios(def, src, t)));
}

/** `ok` / `ok, goal` / `BELOW`, compared at the two decimals shown. */
function floorMark(def: RowDef, r: number | undefined): string {
  if (def.floor === undefined) return '';
  if (r === undefined) return '?';
  const shown = Math.round(r * 100) / 100;
  if (def.goal !== undefined && shown >= def.goal) return 'ok, goal';
  return shown >= def.floor ? 'ok' : 'BELOW';
}

function pad(s: string, w: number, right: boolean): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

function fmtCounts(c: Record<string, number> | undefined, per: number): string {
  if (!c) return '?';
  const entries = Object.entries(c)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return 'none';
  return entries.map(([k, v]) => `${k} ${fmtNum(v)} (${(v / per).toFixed(2)})`).join(', ');
}

/** False when a mirror's stats file reported no request at all over the run (a stub, as with --reference wrappers). */
function hasRequestCounts(t: TargetState): boolean {
  return Object.values(t.windows).some((w) => totalCount(sumCounts(w)) > 0);
}

interface RenderInput {
  env: Env;
  targets: Targets;
  defs: RowDef[];
  order: TargetKey[][];
  profile?: ProfileResult;
  memory?: MemoryResult;
  totalSeconds: number;
}

function render(x: RenderInput): string {
  const { env, targets, defs } = x;
  const { opts, tree } = env;
  const src = targets.source;
  const pt = targets.pt;
  const np = targets.nopt;
  const ref = targets.ref;
  const mirrorsOf = ref ? [pt, np, ref] : [pt, np];
  const lines: string[] = [];
  const backings = mirrorsOf.map((t) => t.backing);
  lines.push(
    `fusekit bench: Linux ${os.release()}, ${os.cpus().length} CPUs, Node ${process.version}; baseline ${path.dirname(src.root)} ` +
      `(${src.root} for the source, ${backings.slice(0, -1).join(', ')} and ${backings[backings.length - 1]} behind the mirrors)`,
  );
  const idle = cpuIdleSetting();
  if (idle) lines.push(`cpu idle: ${idle}`);
  lines.push(
    `file ${fmtNum(opts.size / MiB)} MiB, ${fmtNum(opts.files)} files, tree ${tree.from}${tree.capped ? ` CAPPED at ${fmtNum((opts.treeCap ?? 0) / MiB)} MiB (--tree-mb)` : ' (all of it)'}: ` +
      `${fmtNum(tree.entries)} entries (${fmtNum(tree.files)} files, ${fmtNum(tree.symlinks)} symlinks, ${fmtNum(tree.dirs)} dirs), ${fmtNum(tree.bytes / MiB)} MiB of data${opts.quick ? ' [--quick]' : ''}`,
  );
  lines.push(
    `${opts.reps} repetition${opts.reps > 1 ? 's' : ''}, targets back to back per workload, walked twice (creating pass: data rows, create, untar; ` +
      `then deleting pass: stat + unlink, find + rm -rf); order per repetition: ${x.order.map((o) => o.join('>')).join(' | ')}`,
  );
  lines.push(`random reads: ${env.fio ? `${env.fio}, --ioengine=psync --direct=0 --invalidate=0 --fadvise_hint=0` : `${env.tool.describe}, pread at random 4 KiB-aligned offsets`}`);
  if (!env.fio) lines.push('NOTE: fio is not installed; `apt-get install fio` gives the fio-based random-read rows (this run used the built-in fallback).');
  const modeLine = (t: TargetState) => {
    if (t.error && !t.mirrorArgs) return `${t.title}: NOT RUN (${t.error})`;
    if (t.flagRejected) return `${t.title}: WARNING: this ${t.reference ? 'program' : 'fusekit'} rejects --passthrough (exit 2 "unknown option"); ran WITHOUT the flag, so this column is NOT ${t.mode === 'always' ? 'passthrough' : 'an explicit no-passthrough run'}`;
    return `${t.title}: ran with ${t.mirrorArgs?.join(' ') ?? '?'} (accepted; ${t.startMessage?.split('\n')[0] ?? ''})`;
  };
  lines.push(`mirrors: ${modeLine(pt)}`);
  lines.push(`         ${modeLine(np)}`);
  if (ref) lines.push(`         ${modeLine(ref)} [--reference ${ref.cli}]`);
  if (pt.flagRejected && np.flagRejected) lines.push('WARNING: both mirror columns measured the same (default) mirror; passthrough was NOT measured.');
  lines.push('');

  const mem = x.memory;
  const cell = (t: TargetState, def: RowDef): string => {
    if (def.id === 'mem_peak' || def.id === 'mem_after') {
      if (t.key !== 'pt') return '-';
      const star = mem?.error ? ' *' : '';
      if (def.id === 'mem_peak') return mem?.peakKiB === undefined ? 'failed' : fmtMiB(mem.peakKiB) + star;
      return mem?.rssAfterDropKiB === undefined ? 'failed' : `${fmtMiB(mem.rssStartKiB)} -> ${fmtMiB(mem.rssAfterDropKiB)} in ${mem.settleSeconds?.toFixed(0)} s${star}`;
    }
    if (def.kind === 'memory') {
      if (t.key === 'source') return '-';
      return t.peakRssKiB !== undefined ? fmtMiB(t.peakRssKiB) : 'n/a';
    }
    const r = t.rows[def.id];
    const got = present(r?.values ?? []);
    if (got.length > 0) return fmtValue(median(got) ?? 0, def) + (r?.errors.length ? ' *' : '');
    if (r?.errors.length || t.error) return 'failed';
    return 'n/a';
  };
  const ratioCell = (def: RowDef, t: TargetState) => {
    const r = medianRatio(def, src, t);
    return r === undefined ? '' : fmtRatio(r);
  };
  const floorCell = (def: RowDef) => {
    if (def.id === 'mem_peak') return `< ${MEM_PEAK_TARGET_MIB} MiB`;
    return def.floor === undefined ? '' : `${def.floor.toFixed(2)} (${(def.goal ?? def.floor).toFixed(2)})`;
  };
  const markCell = (def: RowDef) => {
    if (def.id === 'mem_peak') {
      if (!mem || mem.peakKiB === undefined) return '?';
      return mem.peakKiB / 1024 < MEM_PEAK_TARGET_MIB ? 'ok' : 'ABOVE';
    }
    return floorMark(def, medianRatio(def, src, pt));
  };
  const swingCell = (def: RowDef) => {
    const v = present(src.rows[def.id]?.values ?? []);
    if (v.length < 2) return '';
    return fmtRatio(Math.max(...v) / Math.min(...v));
  };
  const refCounts = ref ? hasRequestCounts(ref) : false;
  const rwCell = (t: TargetState, def: RowDef) => {
    if (!def.counted) return '';
    if (t.reference && !refCounts) return '-';
    const w = t.windows[def.id];
    if (!w) return '';
    const d = sumCounts(w);
    if (!d) return '?';
    return `R=${fmtNum(d['READ'] ?? 0)} W=${fmtNum(d['WRITE'] ?? 0)}`;
  };

  const ptHead = pt.flagRejected ? 'passthrough (FLAG REJECTED)' : 'passthrough';
  const npHead = np.flagRejected ? 'no passthrough (FLAG REJECTED)' : 'no passthrough';
  const refHead = ref?.flagRejected ? 'reference (FLAG REJECTED)' : 'reference';
  const header = [
    'workload', 'source', ptHead, 'ratio', npHead, 'ratio', ...(ref ? [refHead, 'ratio'] : []),
    'floor (goal)', 'pt vs floor', 'src swing', 'pt READ/WRITE reqs', ...(ref ? ['ref READ/WRITE reqs'] : []),
  ];
  const rows: string[][] = [header];
  for (const def of defs) {
    rows.push([
      def.label, cell(src, def), cell(pt, def), ratioCell(def, pt), cell(np, def), ratioCell(def, np), ...(ref ? [cell(ref, def), ratioCell(def, ref)] : []),
      floorCell(def), markCell(def), swingCell(def), rwCell(pt, def), ...(ref ? [rwCell(ref, def)] : []),
    ]);
  }
  const widths = header.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const firstLeft = header.indexOf('pt READ/WRITE reqs'); // the request columns are left-aligned, like the labels
  const fmtRow = (r: string[]) => r.map((s, c) => pad(s, widths[c] ?? 0, c > 0 && c < firstLeft)).join('  ').trimEnd();
  lines.push(fmtRow(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) lines.push(fmtRow(r));
  lines.push('');
  lines.push(
    `source/passthrough/no passthrough${ref ? '/reference' : ''}: median over the repetitions. ratio: median of the per-repetition ratios (mirror / source of the same repetition; ` +
      'for the s rows source time / mirror time); higher is better. floor (goal): the passthrough ratio to meet; pt vs floor compares at the 2 decimals shown. ' +
      'src swing: max/min of the source over the repetitions.' +
      (ref
        ? ` reference: ${ref.cli} (--reference), another mirror program started like the fusekit CLI with --passthrough always, ` +
          'interleaved with the others in the same run; its ratio is for comparison only (no floor).'
        : ''),
  );
  const npCounts = defs
    .filter((d) => d.counted && np.windows[d.id])
    .map((d) => `${d.id} ${rwCell(np, d)}`)
    .join(', ');
  lines.push(
    "pt READ/WRITE reqs: READ and WRITE requests the passthrough mirror's server saw in that row, all repetitions (from --stats-file); " +
      'with passthrough both should be 0.' + (npCounts ? ` Without passthrough, for comparison: ${npCounts}.` : '') +
      (ref ? (refCounts ? ' ref READ/WRITE reqs: the same from the reference\'s stats file.' : " ref READ/WRITE reqs: '-', the reference's stats file reported no requests at all (a stub).") : ''),
  );
  if (!pt.flagRejected && pt.mirrorArgs) {
    const leaked = defs.filter((d) => d.counted && (sumCounts(pt.windows[d.id] ?? [])?.['READ'] ?? 0) + (sumCounts(pt.windows[d.id] ?? [])?.['WRITE'] ?? 0) > 0);
    if (leaked.length) lines.push(`WARNING: the passthrough mirror served data in userspace during: ${leaked.map((d) => d.id).join(', ')}.`);
  }

  // Per-repetition ratios of the rows with a floor.
  lines.push('');
  lines.push(`per-repetition ratios (pt | no pt${ref ? ' | ref' : ''}), in repetition order:`);
  for (const def of defs.filter((d) => d.floor !== undefined)) {
    const f = (t: TargetState) => repRatios(def, src, t).map((r) => (r === null ? '-' : r.toFixed(2))).join(' ');
    const srcVals = (src.rows[def.id]?.values ?? []).map((v) => (v === null ? '-' : fmtValue(v, def))).join(', ');
    lines.push(`  ${pad(def.id, 14, false)} ${mirrorsOf.map(f).join(' | ')}   (source: ${srcVals})`);
  }

  // Requests per operation.
  const p = x.profile;
  if (p) {
    lines.push('');
    lines.push(
      `requests per operation, passthrough mirror (untimed profiling pass after the timed repetitions; count (per ${fmtNum(p.files)} files or per ${fmtNum(p.entries)} tree entries); ` +
        'the drop_caches before each cold pass is in its window; warm, unlink and rm -rf by difference of prefix runs):',
    );
    if (p.error) lines.push(`  FAILED: ${p.error}`);
    const stepRows: [string, string, number][] = [
      ['create', 'create', p.files],
      ['stat_cold', 'stat cold', p.files],
      ['stat_warm', 'stat warm', p.files],
      ['unlink', 'unlink', p.files],
      ['untar', 'untar (+sync)', p.entries],
      ['find_cold', 'find cold', p.entries],
      ['find_warm', 'find warm', p.entries],
      ['rmrf', 'rm -rf', p.entries],
    ];
    for (const [id, label, per] of stepRows) {
      const c = p.steps[id];
      if (!c) continue;
      const secs = p.seconds[id];
      lines.push(`  ${pad(label + ':', 15, false)} ${(totalCount(c) / per).toFixed(2)}/op: ${fmtCounts(c, per)}${secs !== undefined ? ` [${secs.toFixed(2)} s]` : ''}`);
    }
    const med = (w: string) => {
      const got = (pt.windows[w] ?? []).filter((c): c is Record<string, number> => !!c).map(totalCount);
      const m = median(got);
      return m === undefined ? '?' : fmtNum(m);
    };
    lines.push(
      `  cross-check, timed repetitions (pt, median requests per repetition): create ${med('create')}; drop+stat cold+warm+unlink ${med('stat_unlink')}; ` +
        `untar+sync ${med('untar')}; drop+find cold+warm+rm -rf ${med('find_rm')}`,
    );
  }

  // Memory phase.
  if (mem) {
    lines.push('');
    lines.push(
      `memory: a fresh passthrough mirror${mem.flagRejected ? ' (FLAG REJECTED: ran without --passthrough)' : ''} (pid ${mem.pid ?? '?'}) over ${fmtNum(mem.files)} empty files in ${fmtNum(mem.dirs)} directories ` +
        `(${fmtNum(mem.entries)} entries, built in ${mem.buildSeconds?.toFixed(1) ?? '?'} s)`,
    );
    if (mem.error) lines.push(`  FAILED: ${mem.error}`);
    if (mem.findSeconds !== undefined) {
      const peakMiB = (mem.peakKiB ?? 0) / 1024;
      lines.push(
        `  find MNT > /dev/null: ${mem.findSeconds.toFixed(1)} s, exit ${mem.findExit}. RSS at start ${fmtMiB(mem.rssStartKiB)}; peak (VmHWM) ${fmtMiB(mem.peakKiB)} ` +
          `[target < ${MEM_PEAK_TARGET_MIB} MiB: ${mem.peakKiB === undefined ? '?' : peakMiB < MEM_PEAK_TARGET_MIB ? 'ok' : 'ABOVE'}]; right after the find ${fmtMiB(mem.rssAfterFindKiB)}`,
      );
      if (mem.rssAfterDropKiB !== undefined) {
        const delta = mem.rssAfterDropKiB - (mem.rssStartKiB ?? 0);
        lines.push(
          `  after echo 2 > drop_caches: RSS ${fmtMiB(mem.rssRightAfterDropKiB)} after 1 s; ${fmtMiB(mem.rssAfterDropKiB)} (${delta >= 0 ? '+' : '-'}${fmtMiB(Math.abs(delta))} vs start) ` +
            `${mem.settled ? 'back within 10 MiB of the start' : 'NOT back within 10 MiB of the start'} after ${mem.settleSeconds?.toFixed(1)} s`,
        );
      }
      lines.push(
        `  descriptors: start ${mem.fdsStart ?? '?'}, peak ${mem.fdsPeak ?? '?'} (sampled every 500 ms during the find), after the find ${mem.fdsAfterFind ?? '?'}, after drop_caches ${mem.fdsAfterDrop ?? '?'}; ` +
          `server nodes: after the find ${mem.nodesAfterFind !== undefined ? fmtNum(mem.nodesAfterFind) : '?'}, after drop_caches ${mem.nodesAfterDrop !== undefined ? fmtNum(mem.nodesAfterDrop) : '?'}`,
      );
      lines.push(`  requests for the find (per entry): ${fmtCounts(mem.findRequests, mem.entries)}`);
      if (mem.errorsDuringFind && Object.keys(mem.errorsDuringFind).length) lines.push(`  errors during the find: ${fmtCounts(mem.errorsDuringFind, mem.entries)}`);
      lines.push(`  requests for drop_caches and the wait: ${fmtCounts(mem.dropRequests, mem.entries)}`);
    }
  }

  // Notes.
  lines.push('');
  for (const t of [pt, np]) {
    for (const [id, warm, unit] of [['stat_cold', 'stat warm', 'names'], ['find_cold', 'find warm', 'entries']] as const) {
      const r = t.rows[id];
      if (!r) continue;
      const secs = r.values.map((v) => (v === null ? 0 : id === 'stat_cold' ? opts.files / v : v));
      const slow = secs.filter((s) => s > 1);
      if (slow.length) {
        lines.push(
          `${t.key}: ${warm}: in ${slow.length} of ${opts.reps} reps the cold pass took longer than the mirror's 1 s entry/attr timeout ` +
            `(${slow.map((s) => s.toFixed(2) + ' s').join(', ')}), so the warm pass found the first ${unit} expired and looked them up again.`,
        );
      }
    }
  }
  const swings = defs.filter((d) => {
    const v = present(src.rows[d.id]?.values ?? []);
    return v.length >= 2 && Math.max(...v) / Math.min(...v) > 1.5;
  });
  if (swings.length) lines.push(`the source swung by more than 1.5x between repetitions in: ${swings.map((d) => `${d.id} (${swingCell(d)})`).join(', ')}; the per-repetition ratios absorb most of that.`);
  if (env.disturbance.length) lines.push(`other activity on the machine during the run (results may be disturbed): ${env.disturbance.join('; ')}`);
  for (const t of targetList(targets)) {
    for (const [id, r] of Object.entries(t.rows)) for (const e of r.errors) lines.push(`${t.key}: ${id}: ${e}`);
    if (t.error) lines.push(`${t.key}: ${t.error}`);
    for (const n of t.notes ?? []) lines.push(`${t.key}: note: ${n}`);
    if (t.stop?.forced) lines.push(`${t.key}: the server had to be aborted/detached at the end`);
  }
  const perTarget = targetList(targets).map((t) => `${t.key} ${t.seconds.toFixed(0)} s`).join(', ');
  lines.push(`total ${Math.floor(x.totalSeconds / 60)}m${String(Math.round(x.totalSeconds % 60)).padStart(2, '0')}s (time inside the timed steps: ${perTarget})`);
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
  if (opts.reference !== undefined && !fs.existsSync(opts.reference)) {
    log(`bench: --reference ${opts.reference} not found`);
    return 1;
  }
  installSignalHandlers();
  scratchDir = opts.dir;
  keepScratch = opts.keep;
  prepareScratch(opts.dir, opts.reference !== undefined ? ['src-ref', 'mnt-ref'] : []);
  const work = path.join(opts.dir, 'work');

  const fio = which('fio', ['--version']);
  if (!fio) log('bench: fio is not installed; `apt-get install fio` gives the fio-based random-read rows. Using the built-in fallback.');
  const tool = await loadTool(work);
  log(`bench: load tool: ${tool.describe}; random reads: ${fio ?? 'fallback'}`);
  const tree = await makeTarball(work, opts.treeCap);
  log(
    `bench: tarball ${tree.path}: ${fmtNum(tree.tarBytes / MiB, 1)} MiB, ${tree.entries} entries (${tree.files} files, ${tree.symlinks} symlinks, ${tree.dirs} dirs) ` +
      `from ${tree.from}${tree.capped ? ' (capped by --tree-mb)' : ''}`,
  );
  const env: Env = { opts, tool, fio, tree, work, disturbance: [] };
  const defs = defineRows(env);
  const busy = await busyShare(1000);
  log(`bench: machine busy ${(busy * 100).toFixed(0)}% over 1 s before the first workload`);
  if (busy > 0.15) env.disturbance.push(`the CPUs were ${(busy * 100).toFixed(0)}% busy (not idle) in the second before the first workload`);

  const d = (s: string) => path.join(opts.dir, s);
  const targets: Targets = {
    source: { key: 'source', title: 'source', root: d('src-direct'), backing: d('src-direct'), rows: {}, windows: {}, seconds: 0 },
    pt: { key: 'pt', title: 'passthrough', root: d('mnt-pt'), backing: d('src-pt'), mode: 'always', cli: opts.cli, rows: {}, windows: {}, seconds: 0 },
    nopt: { key: 'nopt', title: 'no passthrough', root: d('mnt-nopt'), backing: d('src-nopt'), mode: 'never', cli: opts.cli, rows: {}, windows: {}, seconds: 0 },
  };
  if (opts.reference !== undefined) {
    targets.ref = {
      key: 'ref', title: 'reference', root: d('mnt-ref'), backing: d('src-ref'), mode: 'always', cli: opts.reference, reference: true, notes: [],
      rows: {}, windows: {}, seconds: 0,
    };
  }
  const mirrorTargets = targetList(targets).filter((t) => t.mode);
  const bench = new Bench(env, targets);
  let profile: ProfileResult | undefined;
  let memory: MemoryResult | undefined;
  try {
    log('\n== starting the mirrors (they stay mounted for the whole timed part)');
    for (const t of mirrorTargets) {
      const r = await startMirror(t.cli ?? opts.cli, t.backing, t.root, path.join(work, `stats-${t.key}.json`), t.mode ?? 'never', t.key);
      if (!r.ok) {
        t.error = r.message;
        log(`  [${t.key}] ${t.error}`);
        continue;
      }
      bench.mirrors.set(t.key, r.mirror);
      t.mirrorArgs = r.args;
      t.flagRejected = r.flagRejected;
      t.startMessage = r.message;
      t.pid = r.mirror.pid;
      await bench.baseline(t);
    }
    await bench.timed();
    if (opts.profile) profile = await bench.profile(targets.pt);
  } finally {
    for (const t of mirrorTargets) {
      const m = bench.mirrors.get(t.key);
      if (!m) continue;
      t.peakRssKiB = m.peakRssKiB();
      t.stop = await stopMirror(m, t.root);
      bench.mirrors.delete(t.key);
      const how = t.stop.forced ? 'had to be aborted/detached' : `exited with code ${t.stop.code}`;
      log(`  [${t.key}] server stopped: ${how}`);
      if (!t.stop.forced && t.stop.code !== 0) {
        const msg = `server exited with code ${t.stop.code} on SIGTERM`;
        // Another program's exit status on SIGTERM is its own business (libfuse's passthrough_hp exits 1).
        if (t.reference) (t.notes ??= []).push(`${msg} (noted only; it does not fail the run)`);
        else t.error ??= msg;
      }
    }
  }
  for (const t of targetList(targets)) for (const r of Object.values(t.rows)) r.median = median(present(r.values));
  if (opts.memory) memory = await memoryPhase(env);
  noteDisturbance(env, 'the end');

  const total = (Date.now() - t0) / 1000;
  const table = render({ env, targets, defs, order: bench.order, profile, memory, totalSeconds: total });
  process.stdout.write('\n' + table);
  if (opts.out) {
    const ratios: Record<string, Record<string, { perRep: (number | null)[]; median?: number }>> = {};
    for (const def of defs) {
      if (def.kind === 'memory') continue;
      ratios[def.id] = {
        pt: { perRep: repRatios(def, targets.source, targets.pt), median: medianRatio(def, targets.source, targets.pt) },
        nopt: { perRep: repRatios(def, targets.source, targets.nopt), median: medianRatio(def, targets.source, targets.nopt) },
        ...(targets.ref ? { ref: { perRep: repRatios(def, targets.source, targets.ref), median: medianRatio(def, targets.source, targets.ref) } } : {}),
      };
    }
    const raw = {
      date: new Date().toISOString(),
      kernel: os.release(),
      cpus: os.cpus().length,
      node: process.version,
      options: { ...opts, sizeMiB: opts.size / MiB, treeCapMiB: opts.treeCap === undefined ? null : opts.treeCap / MiB },
      loadTool: tool.describe,
      fio: fio ?? null,
      tree,
      floors: FLOORS,
      memPeakTargetMiB: MEM_PEAK_TARGET_MIB,
      rows: defs,
      order: bench.order,
      targets,
      referenceRequestCounts: targets.ref ? hasRequestCounts(targets.ref) : null,
      ratios,
      profile: profile ?? null,
      memory: memory ?? null,
      disturbance: env.disturbance,
      totalSeconds: total,
      table,
    };
    fs.writeFileSync(opts.out, JSON.stringify(raw, null, 2) + '\n');
    log(`bench: raw results in ${opts.out}`);
  }
  removeScratch();
  const failed =
    targetList(targets).some((t) => t.error || Object.values(t.rows).some((r) => r.errors.length > 0)) || !!profile?.error || !!memory?.error;
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
