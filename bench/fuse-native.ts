/**
 * The fuse-native comparison: one flat filesystem (N files of 4 KiB in one
 * directory, served from memory) written once against the fuse-native API and
 * served by the real `fuse-native` (libfuse 2) and by `fusekit/fuse-native`,
 * and, to measure the path layer's own cost, the same filesystem written
 * against fusekit's path API and its inode API.
 *
 *   node dist/bench/fuse-native.js [--files N] [--reps R] [--fuse-native DIR | --no-fuse-native] [--baseline DIR] [--out FILE]
 *
 * `--fuse-native DIR` names an installed fuse-native package directory;
 * without it the script installs fuse-native 2.2.6 with npm into its temporary
 * directory (it needs the system's libfuse.so.2: Debian's `libfuse2`, or
 * `libfuse2t64` from trixie on). If that fails, the column is left out and
 * the header says why. `--baseline DIR` adds one more target: the same
 * fuse-native server on another built fusekit checkout (say, the commit
 * before a change), so a change is measured against its base in one run.
 *
 * Workloads, each from a separate process (a small C client, or `ls`), with
 * the kernel's cached entries expired first (every server answers with 1 s
 * timeouts, libfuse's default, and each pass waits 1.2 s):
 *
 * - stat: lstat of every file, one LOOKUP each;
 * - open+read+close of every file (LOOKUP, OPEN, READ, FLUSH, RELEASE);
 * - `ls -f` of the directory (OPENDIR, READDIRs, RELEASEDIR), timed from
 *   outside, so with ls's own start-up and output (most of its time);
 * - readdir: the same requests from the C client, timing only its
 *   opendir/readdir/closedir loop (what the filesystem costs a listing).
 *
 * After one untimed round on every target (JIT warm-up, and each file met
 * once), targets run interleaved, in an order rotated per repetition; the table
 * shows medians, the ratio of fusekit/fuse-native to fuse-native (median of
 * the per-repetition ratios), and each server's CPU time per file operation
 * (from /proc/PID/stat, all threads). Only ratios within one run mean
 * anything on a shared VM; the header prints the machine and its idle-CPU
 * polling setting.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, forceUnmount, mountAt, run, sleep } from '../test/helpers/mount.js';
import { flags } from '../test/helpers/args.js';
import { PathAdapter } from '../src/path/adapter.js';
import { Errno } from '../src/fs/errors.js';
import { ROOT_ID } from '../src/abi/constants.js';
import type { Filesystem, RequestContext } from '../src/fs/filesystem.js';
import type { Attr, GetattrRequest, LookupRequest, NodeId } from '../src/abi/types.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLIENT_SRC = path.resolve(HERE, '../../bench/flat-client.c');
const FUSE_NATIVE_VERSION = '2.2.6';

interface Options {
  files: number;
  reps: number;
  fuseNative: string | undefined;
  noFuseNative: boolean;
  baseline: string | undefined;
  out: string | undefined;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { files: 10_000, reps: 3, fuseNative: undefined, noFuseNative: false, baseline: undefined, out: undefined };
  for (const { name: a, value: next } of flags(argv)) {
    if (a === '--files') o.files = Number(next());
    else if (a === '--reps') o.reps = Number(next());
    else if (a === '--fuse-native') o.fuseNative = path.resolve(next());
    else if (a === '--no-fuse-native') o.noFuseNative = true;
    else if (a === '--baseline') o.baseline = path.resolve(next());
    else if (a === '--out') o.out = next();
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------------------
// The servers. The fuse-native one is the same file for both packages: only
// the module it requires differs.

/**
 * What every server below starts with, given `n`: the names f0000000…, an
 * index of them keyed by `key` (a JavaScript expression of `name`), and the
 * 4 KiB every file holds.
 */
function flatTree(key: string): string {
  return `const DATA = Buffer.alloc(4096, 120)
const names = []
const index = new Map()
for (let i = 0; i < n; i++) {
  const name = 'f' + String(i).padStart(7, '0')
  names.push(name)
  index.set(${key}, i)
}`;
}

const FUSE_NATIVE_SERVER = `
const Fuse = require(process.argv[2])
const mnt = process.argv[3]
const n = Number(process.argv[4])
${flatTree("'/' + name")}
const t = new Date(1700000000000)
const dirStat = { mode: 0o40755, size: 4096, nlink: 2, uid: 0, gid: 0, mtime: t, atime: t, ctime: t }
const fileStat = { mode: 0o100644, size: 4096, nlink: 1, uid: 0, gid: 0, mtime: t, atime: t, ctime: t }
const ops = {
  getattr (p, cb) {
    if (p === '/') return cb(0, dirStat)
    if (index.has(p)) return cb(0, fileStat)
    cb(Fuse.ENOENT)
  },
  readdir (p, cb) {
    if (p === '/') return cb(0, names)
    cb(Fuse.ENOTDIR)
  },
  open (p, flags, cb) {
    const i = index.get(p)
    if (i === undefined) return cb(Fuse.ENOENT)
    cb(0, i + 1)
  },
  read (p, fd, buf, len, pos, cb) {
    if (pos >= 4096) return cb(0)
    cb(DATA.copy(buf, 0, pos, Math.min(4096, pos + len)))
  },
  release (p, fd, cb) { cb(0) }
}
const fuse = new Fuse(mnt, ops, {})
fuse.mount(err => {
  if (err) { console.error(err.message); process.exit(1) }
  console.log('READY')
})
process.on('SIGTERM', () => fuse.unmount(() => process.exit(0)))
`;

const PATH_SERVER = `
import { mountPaths, Errno } from 'fusekit'
const [mnt, nArg] = process.argv.slice(2)
const n = Number(nArg)
${flatTree("'/' + name")}
const t = 1700000000000
const dirAttr = { mode: 0o40755, size: 4096, nlink: 2, mtime: t, atime: t, ctime: t }
const fileAttr = { mode: 0o100644, size: 4096, nlink: 1, mtime: t, atime: t, ctime: t }
const ENOENT = Errno.of('ENOENT')
const m = await mountPaths(mnt, {
  getattr: (p) => (p === '/' ? dirAttr : index.has(p) ? fileAttr : ENOENT),
  readdir: (p) => (p === '/' ? names : Errno.of('ENOTDIR')),
  open: (p) => { const i = index.get(p); return i === undefined ? ENOENT : i + 1 },
  read: (p, fh, dest, pos) => (pos >= 4096 ? 0 : DATA.copy(dest, 0, pos, Math.min(4096, pos + dest.length))),
  release: () => undefined,
}, { source: 'bench', subtype: 'bench' })
console.log('READY')
process.on('SIGTERM', () => { void m.unmount().then(() => process.exit(0)) })
`;

const INODE_SERVER = `
import { mount, Errno, ROOT_ID, DT_REG } from 'fusekit'
const [mnt, nArg] = process.argv.slice(2)
const n = Number(nArg)
${flatTree('name')}
const ENOENT = Errno.of('ENOENT')
const attr = (ino, mode, size, nlink) => ({ ino, mode, size, nlink, uid: 0, gid: 0, rdev: 0, blksize: 0, blocks: 0,
  atimeSec: 1700000000, atimeNsec: 0, mtimeSec: 1700000000, mtimeNsec: 0, ctimeSec: 1700000000, ctimeNsec: 0 })
const rootAttr = attr(1, 0o40755, 4096, 2)
const m = await mount(mnt, {
  lookup: ({ name }, { nodeid }) => {
    const i = nodeid === ROOT_ID ? index.get(name) : undefined
    if (i === undefined) return ENOENT
    return { nodeid: i + 2, generation: 0, entryTimeout: 1, attrTimeout: 1, attr: attr(i + 2, 0o100644, 4096, 1) }
  },
  getattr: (_r, { nodeid }) => ({ attrTimeout: 1, attr: nodeid === ROOT_ID ? rootAttr : attr(nodeid, 0o100644, 4096, 1) }),
  opendir: () => ({ fh: 0 }),
  open: (_r, { nodeid }) => ({ fh: nodeid }),
  read: ({ offset }, _ctx, dest) => (offset >= 4096 ? 0 : DATA.copy(dest, 0, offset, Math.min(4096, offset + dest.length))),
  release: () => undefined,
  releasedir: () => undefined,
  readdir: ({ offset }, _ctx, out) => {
    for (let i = Number(offset); i < names.length + 2; i++) {
      const name = i === 0 ? '.' : i === 1 ? '..' : names[i - 2]
      if (!out.add(name, i < 2 ? 1 : i, i < 2 ? 4 : DT_REG, BigInt(i + 1))) return
    }
  },
}, { source: 'bench', subtype: 'bench' })
console.log('READY')
process.on('SIGTERM', () => { void m.unmount().then(() => process.exit(0)) })
`;

interface Target {
  key: string;
  title: string;
  /** node ARGS, run in the consumer directory. */
  args: (mnt: string, n: number) => string[];
  /** Another consumer directory (the baseline's). */
  cwd?: string;
}

// ---------------------------------------------------------------------------

interface Server {
  child: ChildProcess;
  mnt: string;
  stderr: () => string;
}

async function startServer(cwd: string, args: string[], mnt: string): Promise<Server> {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 1 << 16) err += b.toString();
  });
  const deadline = Date.now() + 20_000;
  while (!out.includes('READY')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      forceUnmount(mnt);
      throw new Error(`server ${args.join(' ')} did not start: ${err.trim().slice(-500)}`);
    }
    await sleep(20);
  }
  return { child, mnt, stderr: () => err };
}

async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode === null) {
    s.child.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (s.child.exitCode === null && s.child.signalCode === null && Date.now() < deadline) await sleep(20);
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  }
  if (mountAt(s.mnt)) forceUnmount(s.mnt);
}

/** CPU seconds (user + system, all threads) a process has used. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

interface Sample {
  rate: number;
  cpuUsPerOp: number;
}

type Kind = 'stat' | 'read' | 'ls' | 'list';

async function workload(kind: Kind, client: string, s: Server, n: number): Promise<Sample> {
  // Let every entry and attribute the kernel cached expire (1 s timeouts).
  await sleep(1200);
  const pid = s.child.pid!;
  const cpu0 = cpuSeconds(pid);
  let ops: number;
  let seconds: number;
  if (kind === 'ls') {
    const t0 = process.hrtime.bigint();
    const r = await run('sh', ['-c', `ls -f ${s.mnt} | wc -l`], { timeoutMs: 120_000 });
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // libfuse lists only what readdir gives; fusekit adds `.` and `..`.
    const listed = Number(r.stdout.trim());
    if (r.code !== 0 || (listed !== n && listed !== n + 2)) throw new Error(`ls -f ${s.mnt}: ${r.stdout.trim()} entries, ${r.stderr.trim()}`);
    ops = n;
  } else {
    const r = await run(client, [kind, s.mnt, String(n)], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`flat-client ${kind} ${s.mnt}: ${r.stderr.trim()}`);
    const j = JSON.parse(r.stdout) as { ops: number; seconds: number };
    ops = j.ops;
    seconds = j.seconds;
  }
  const cpu = cpuSeconds(pid) - cpu0;
  const timed = kind === 'ls' || kind === 'list';
  return { rate: timed ? seconds : ops / seconds, cpuUsPerOp: (cpu / ops) * 1e6 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function machine(): string {
  let haltpoll = 'n/a';
  try {
    haltpoll = fs.readFileSync('/sys/module/haltpoll/parameters/guest_halt_poll_ns', 'utf8').trim();
  } catch {
    /* not a haltpoll guest */
  }
  return `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Linux ${os.release()}, Node ${process.version}, guest_halt_poll_ns=${haltpoll}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/**
 * The path layer's own cost per request, without the kernel: the same flat
 * filesystem as a `PathFilesystem` behind a `PathAdapter` and as an inode-level
 * `Filesystem`, each asked for LOOKUP (of names it has met, as after the
 * first pass), GETATTR and FORGET in a loop. Returns nanoseconds per call.
 */
function pathLayerCost(n: number): { lookupInode: number; lookupPath: number; getattrInode: number; getattrPath: number } {
  const names: string[] = [];
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = 'f' + String(i).padStart(7, '0');
    names.push(name);
    index.set(name, i);
  }
  const ENOENT = Errno.of('ENOENT');
  const t = 1700000000000;
  const dirAttr = { mode: 0o40755, size: 4096, nlink: 2, mtime: t, atime: t, ctime: t };
  const fileAttr = { mode: 0o100644, size: 4096, nlink: 1, mtime: t, atime: t, ctime: t };
  const adapter = new PathAdapter({
    getattr: (p) => (p === '/' ? dirAttr : p !== null && index.has(p.slice(1)) ? fileAttr : ENOENT),
  });
  const attr = (ino: number, mode: number): Attr => ({
    ino, mode, size: 4096, nlink: 1, uid: 0, gid: 0, rdev: 0, blksize: 0, blocks: 0,
    atimeSec: 1700000000, atimeNsec: 0, mtimeSec: 1700000000, mtimeNsec: 0, ctimeSec: 1700000000, ctimeNsec: 0,
  });
  const inode: Filesystem = {
    lookup: ({ name }, { nodeid }) => {
      const i = nodeid === ROOT_ID ? index.get(name) : undefined;
      if (i === undefined) return ENOENT;
      return { nodeid: (i + 2) as NodeId, generation: 0, entryTimeout: 1, attrTimeout: 1, attr: attr(i + 2, 0o100644) };
    },
    getattr: (_r, { nodeid }) => ({ attrTimeout: 1, attr: attr(nodeid, nodeid === ROOT_ID ? 0o40755 : 0o100644) }),
    forget: () => undefined,
  };
  const ctxOf = (nodeid: number) => ({ nodeid, uid: 0, gid: 0, pid: 1, unique: 1n, signal: new AbortController().signal }) as RequestContext;
  const rootCtx = ctxOf(ROOT_ID);
  const lookups = names.map((name) => ({ op: 'LOOKUP', name, nameBytes: Buffer.from(name) }) as unknown as LookupRequest);
  const getattrReq = { op: 'GETATTR', getattrFlags: 0, fh: 0 } as unknown as GetattrRequest;
  const time = (fn: () => void, calls: number): number => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / calls;
  };
  const ids: number[] = new Array(n);
  const lookupAll = (fs: Filesystem) => () => {
    for (let i = 0; i < n; i++) ids[i] = (fs.lookup!(lookups[i]!, rootCtx) as { nodeid: number }).nodeid;
  };
  const getattrAll = (fs: Filesystem, ctxs: RequestContext[]) => () => {
    for (let i = 0; i < n; i++) fs.getattr!(getattrReq, ctxs[i]!);
  };
  const result = { lookupInode: Infinity, lookupPath: Infinity, getattrInode: Infinity, getattrPath: Infinity };
  // Fill the adapter's table once (the first pass over the files), then measure repeat lookups, best of several rounds.
  lookupAll(adapter)();
  const pathCtxs = ids.map(ctxOf);
  lookupAll(inode)();
  const inodeCtxs = ids.map(ctxOf);
  for (let round = 0; round < 15; round++) {
    result.lookupInode = Math.min(result.lookupInode, time(lookupAll(inode), n));
    result.lookupPath = Math.min(result.lookupPath, time(lookupAll(adapter), n));
    result.getattrInode = Math.min(result.getattrInode, time(getattrAll(inode, inodeCtxs), n));
    result.getattrPath = Math.min(result.getattrPath, time(getattrAll(adapter, pathCtxs), n));
  }
  return result;
}

async function installFuseNative(work: string): Promise<{ dir?: string; note: string }> {
  const prefix = path.join(work, 'fuse-native-install');
  fs.mkdirSync(prefix);
  fs.writeFileSync(path.join(prefix, 'package.json'), '{"name":"bench-fuse-native","private":true}\n');
  const r = await run('npm', ['install', `fuse-native@${FUSE_NATIVE_VERSION}`, '--no-audit', '--no-fund'], { timeoutMs: 300_000, cwd: prefix });
  const dir = path.join(prefix, 'node_modules', 'fuse-native');
  if (r.code !== 0 || !fs.existsSync(dir)) return { note: `npm install fuse-native failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}` };
  return { dir, note: `fuse-native ${FUSE_NATIVE_VERSION} installed with npm` };
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('bench/fuse-native: must run as root (fusekit mounts with mount(2))');
    return 2;
  }
  const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-fnbench-')));
  const servers: Server[] = [];
  const onSignal = () => {
    for (const s of servers) {
      s.child.kill('SIGKILL');
      forceUnmount(s.mnt);
    }
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // A directory from which `fusekit` and `fusekit/fuse-native` resolve to this checkout.
    const consumer = path.join(work, 'consumer');
    fs.mkdirSync(path.join(consumer, 'node_modules'), { recursive: true });
    fs.symlinkSync(REPO_ROOT, path.join(consumer, 'node_modules', 'fusekit'));
    fs.writeFileSync(path.join(consumer, 'fuse-native-server.cjs'), FUSE_NATIVE_SERVER);
    fs.writeFileSync(path.join(consumer, 'path-server.mjs'), PATH_SERVER);
    fs.writeFileSync(path.join(consumer, 'inode-server.mjs'), INODE_SERVER);
    const client = path.join(work, 'flat-client');
    const cc = await run('gcc', ['-O2', '-o', client, CLIENT_SRC], { timeoutMs: 60_000 });
    if (cc.code !== 0) throw new Error(`gcc: ${cc.stderr}`);
    let baselineConsumer: string | undefined;
    if (opts.baseline) {
      if (!fs.existsSync(path.join(opts.baseline, 'dist/src/fuse-native/index.js'))) throw new Error(`--baseline ${opts.baseline}: no dist/src/fuse-native/index.js (build it first)`);
      baselineConsumer = path.join(work, 'baseline-consumer');
      fs.mkdirSync(path.join(baselineConsumer, 'node_modules'), { recursive: true });
      fs.symlinkSync(opts.baseline, path.join(baselineConsumer, 'node_modules', 'fusekit'));
      fs.writeFileSync(path.join(baselineConsumer, 'fuse-native-server.cjs'), FUSE_NATIVE_SERVER);
    }

    let realDir = opts.fuseNative;
    let note = realDir ? `fuse-native from ${realDir}` : '';
    if (!realDir && !opts.noFuseNative) ({ dir: realDir, note } = await installFuseNative(work));
    if (opts.noFuseNative) note = 'fuse-native left out (--no-fuse-native)';

    const targets: Target[] = [];
    if (realDir) targets.push({ key: 'real', title: 'fuse-native', args: (mnt, n) => ['fuse-native-server.cjs', realDir!, mnt, String(n)] });
    targets.push(
      { key: 'fn', title: 'fusekit/fuse-native', args: (mnt, n) => ['fuse-native-server.cjs', 'fusekit/fuse-native', mnt, String(n)] },
      ...(baselineConsumer
        ? [{ key: 'base', title: 'fusekit/fuse-native (baseline)', cwd: baselineConsumer, args: (mnt: string, n: number) => ['fuse-native-server.cjs', 'fusekit/fuse-native', mnt, String(n)] }]
        : []),
      { key: 'path', title: 'fusekit path API', args: (mnt, n) => ['path-server.mjs', mnt, String(n)] },
      { key: 'inode', title: 'fusekit inode API', args: (mnt, n) => ['inode-server.mjs', mnt, String(n)] },
    );

    console.log(`fuse-native comparison: ${opts.files} files of 4 KiB in one directory, ${opts.reps} repetitions, targets interleaved`);
    console.log(`machine: ${machine()}`);
    if (note) console.log(note);
    if (opts.baseline) console.log(`baseline: fusekit at ${opts.baseline}`);

    // Every server stays mounted for the timed part.
    for (const t of targets) {
      const mnt = path.join(work, `mnt-${t.key}`);
      fs.mkdirSync(mnt);
      const s = await startServer(t.cwd ?? consumer, t.args(mnt, opts.files), mnt);
      servers.push(s);
    }
    const byKey = new Map(targets.map((t, i) => [t.key, servers[i]!]));
    const kinds: Kind[] = ['stat', 'read', 'ls', 'list'];
    const samples = new Map<string, Sample[]>();
    // One untimed round first: every server (fuse-native's JavaScript too) compiles its hot paths and meets each file once.
    for (const kind of kinds) for (const t of targets) await workload(kind, client, byKey.get(t.key)!, opts.files);
    for (let rep = 0; rep < opts.reps; rep++) {
      const order = targets.map((_, i) => targets[(i + rep) % targets.length]!);
      for (const kind of kinds) {
        for (const t of order) {
          const s = await workload(kind, client, byKey.get(t.key)!, opts.files);
          const k = `${kind}|${t.key}`;
          (samples.get(k) ?? samples.set(k, []).get(k)!).push(s);
        }
      }
      process.stderr.write(`repetition ${rep + 1}/${opts.reps} done\n`);
    }

    // ---- table
    const label = {
      stat: 'stat, one LOOKUP each (files/s)',
      read: 'open+read+close (files/s)',
      ls: 'ls -f (seconds)',
      list: 'readdir loop (seconds)',
    };
    const cell = (kind: string, key: string) => {
      const xs = samples.get(`${kind}|${key}`)!;
      const v = median(xs.map((x) => x.rate));
      return kind === 'ls' || kind === 'list' ? v.toFixed(4) : Math.round(v).toLocaleString('en-US');
    };
    const ratio = (kind: string, key: string, base: string) => {
      const a = samples.get(`${kind}|${key}`)!;
      const b = samples.get(`${kind}|${base}`)!;
      // Higher is better: rates divide, times divide the other way.
      const timed = kind === 'ls' || kind === 'list';
      return median(a.map((x, i) => (timed ? b[i]!.rate / x.rate : x.rate / b[i]!.rate))).toFixed(2) + 'x';
    };
    const header = ['workload', ...targets.map((t) => t.title)];
    if (realDir) header.push('fusekit/fuse-native vs fuse-native');
    if (realDir && opts.baseline) header.push('baseline vs fuse-native');
    if (opts.baseline) header.push('fusekit/fuse-native vs baseline');
    header.push('path vs inode');
    console.log('\n| ' + header.join(' | ') + ' |');
    console.log('| ' + header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ') + ' |');
    for (const kind of kinds) {
      const row = [label[kind], ...targets.map((t) => cell(kind, t.key))];
      if (realDir) row.push(ratio(kind, 'fn', 'real'));
      if (realDir && opts.baseline) row.push(ratio(kind, 'base', 'real'));
      if (opts.baseline) row.push(ratio(kind, 'fn', 'base'));
      row.push(ratio(kind, 'path', 'inode'));
      console.log('| ' + row.join(' | ') + ' |');
    }
    console.log('\nserver CPU per file (µs, median; all threads):');
    console.log('| workload | ' + targets.map((t) => t.title).join(' | ') + ' | path layer over inode API |');
    console.log('| --- | ' + targets.map(() => '---:').join(' | ') + ' | ---: |');
    for (const kind of kinds) {
      const cpu = (key: string) => median(samples.get(`${kind}|${key}`)!.map((x) => x.cpuUsPerOp));
      console.log(`| ${kind} | ${targets.map((t) => cpu(t.key).toFixed(1)).join(' | ')} | ${(cpu('path') - cpu('inode')).toFixed(1)} |`);
    }
    const c = pathLayerCost(opts.files);
    console.log('\npath layer cost per request, in process without the kernel (best of 15 rounds over the files, ns per call):');
    console.log(`| request | inode API | path API | path layer adds |\n| --- | ---: | ---: | ---: |`);
    console.log(`| LOOKUP of a known name | ${c.lookupInode.toFixed(0)} | ${c.lookupPath.toFixed(0)} | ${(c.lookupPath - c.lookupInode).toFixed(0)} |`);
    console.log(`| GETATTR | ${c.getattrInode.toFixed(0)} | ${c.getattrPath.toFixed(0)} | ${(c.getattrPath - c.getattrInode).toFixed(0)} |`);
    console.log('\nrequests per file: stat 1 (LOOKUP); open+read+close 5 (LOOKUP, OPEN, READ, FLUSH, RELEASE; FLUSH is answered ENOSYS once where the filesystem has none); ls -f and readdir: OPENDIR, READDIR per reply of up to 32 KiB of names, RELEASEDIR');
    if (opts.out) {
      const json = Object.fromEntries([...samples].map(([k, v]) => [k, v]));
      fs.writeFileSync(opts.out, JSON.stringify({ machine: machine(), files: opts.files, reps: opts.reps, note, samples: json }, null, 2));
    }
    return 0;
  } finally {
    for (const s of servers) await stopServer(s);
    const left = servers.filter((s) => mountAt(s.mnt));
    for (const s of left) forceUnmount(s.mnt);
    fs.rmSync(work, { recursive: true, force: true, maxRetries: 3 });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
