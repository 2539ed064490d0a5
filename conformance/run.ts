/**
 * `npm run conformance`: fusekit's POSIX conformance suite for `fusekit mirror`.
 *
 *   npm run conformance -- [--policies auto,always,readonly,never,exclusive,unwatched,offload,paths] [--cases SUBSTR]
 *                          [--seeds N] [--ops N] [--no-fuzz] [--verbose]
 *
 * Part 1: every script of conformance/cases.ts runs, through the C interpreter
 * conformance/posix-ops.c (compiled here with gcc into a temp dir), in a fresh
 * directory of a plain ext4 directory and of a mirror in each passthrough
 * policy; the result lines are diffed. Self-check cases (readdir under churn)
 * must print `ok` on every target instead.
 *
 * Part 2: a seeded random-operation exerciser (posix-ops fuzz) on three files
 * through each mirror, checked against an in-memory model after every step and
 * against SRC at the end; failures are shrunk to a minimal operation list.
 *
 * Differences listed in conformance/known-differences.md (lines
 * "- `allow CASE POLICY OP`", `*` matching anything) are reported but do not
 * fail the run. Every mount is time-limited and cleaned up.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES, type Case } from './cases.js';
import { forceUnmount, fuseMounts, makeTempDirs, run, spawnMirror, type MirrorProcess, type TempDirs } from '../test/helpers/mount.js';
import { mulberry32 } from '../test/helpers/prng.js';
import { flags } from '../test/helpers/args.js';
import { readStats } from '../test/helpers/stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONF_SRC = path.resolve(HERE, '../../conformance'); // dist/conformance -> conformance
/**
 * Mirror targets: a passthrough policy, `exclusive` (policy auto with `-o
 * exclusive`: everything cached for a day), `unwatched` (policy auto with
 * `--no-watch`: cached for 1 s, SRC not watched; the others watch it, as
 * the mirror does by default on a local filesystem), `offload` (policy auto with
 * `-o offload=always`: lookups, attribute reads and listings made on the
 * thread pool, as on a slow source), or `paths` (the path-level mirror of
 * examples/path-mirror.ts, policy auto).
 */
const ALL_POLICIES = ['auto', 'always', 'readonly', 'never', 'exclusive', 'unwatched', 'offload', 'paths'] as const;
const PATH_MIRROR = path.resolve(HERE, '../examples/path-mirror.js');

function mirrorArgs(target: string, statsFile: string): string[] {
  const policy = target === 'exclusive' || target === 'unwatched' || target === 'offload' || target === 'paths' ? 'auto' : target;
  const o = target === 'exclusive' ? 'allow_other,exclusive' : target === 'offload' ? 'allow_other,offload=always' : 'allow_other';
  return ['--passthrough', policy, '-o', o, ...(target === 'unwatched' ? ['--no-watch'] : []), '--stats-file', statsFile];
}

interface Options {
  policies: string[];
  cases?: string;
  seeds: number;
  ops: number;
  fuzz: boolean;
  verbose: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { policies: [...ALL_POLICIES], seeds: 20, ops: 400, fuzz: true, verbose: false };
  for (const { name: a, value: next } of flags(argv)) {
    if (a === '--policies') o.policies = next().split(',');
    else if (a === '--cases') o.cases = next();
    else if (a === '--seeds') o.seeds = Number(next());
    else if (a === '--ops') o.ops = Number(next());
    else if (a === '--no-fuzz') o.fuzz = false;
    else if (a === '--verbose') o.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------------------
// Allow-list

interface Allow {
  caseName: string;
  policy: string;
  op: string;
}

function loadAllowList(): Allow[] {
  const file = path.join(CONF_SRC, 'known-differences.md');
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Allow[] = [];
  for (const m of text.matchAll(/`allow (\S+) (\S+) (\S+)`/g)) out.push({ caseName: m[1]!, policy: m[2]!, op: m[3]! });
  return out;
}

function allowed(list: Allow[], caseName: string, policy: string, op: string): boolean {
  const glob = (pat: string, v: string) => pat === '*' || pat === v || (pat.endsWith('*') && v.startsWith(pat.slice(0, -1)));
  return list.some((a) => glob(a.caseName, caseName) && glob(a.policy, policy) && glob(a.op, op));
}

// ---------------------------------------------------------------------------
// Running the interpreter

interface Mismatch {
  caseName: string;
  policy: string;
  op: string;
  source: string;
  mirror: string;
  allowed: boolean;
}

const OP_TIMEOUT_MS = 30_000;

async function runScript(bin: string, dir: string, script: string): Promise<string[]> {
  const r = await run(bin, ['script', dir], { timeoutMs: OP_TIMEOUT_MS, input: script });
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  if (r.timedOut) lines.push(`TIMEOUT after ${OP_TIMEOUT_MS} ms`);
  else if (r.code !== 0) lines.push(`EXIT code=${r.code} signal=${r.signal} ${r.stderr.trim().slice(0, 200)}`);
  return lines;
}

function splitResult(line: string): { op: string; result: string } {
  const i = line.indexOf(' => ');
  if (i < 0) return { op: line, result: '' };
  return { op: line.slice(0, i), result: line.slice(i + 4) };
}

function short(s: string, n = 160): string {
  return s.length > n ? s.slice(0, n) + '…' : s;
}

// ---------------------------------------------------------------------------
// Fuzz generation (seeded, deterministic)

export function genOps(seed: number, n: number): string[] {
  const rnd = mulberry32(seed * 7919 + 17);
  const int = (k: number) => Math.floor(rnd() * k);
  const off = () => (rnd() < 0.1 ? int(300_000) : rnd() < 0.3 ? int(16) * 4096 : int(70_000));
  const len = () => 1 + (rnd() < 0.8 ? int(8192) : int(65_536));
  const ops: string[] = ['open 0 0 0'];
  const table: Array<[number, () => string]> = [
    [8, () => `open ${int(4)} ${int(3)} ${rnd() < 0.15 ? 1 : 0}`],
    [4, () => `openro ${int(4)} ${int(3)}`],
    [6, () => `close ${int(4)}`],
    [10, () => `read ${int(4)} ${off()} ${len()}`],
    [14, () => `pwrite ${int(4)} ${off()} ${len()} ${int(1e6)}`],
    [6, () => `write ${int(4)} ${off()} ${len()} ${int(1e6)}`],
    [4, () => `ftruncate ${int(4)} ${off()}`],
    [3, () => `truncate ${int(3)} ${off()}`],
    [6, () => `mmapwrite ${int(4)} ${int(300_000)} ${len()} ${int(1e6)}`],
    [3, () => `mmapread ${int(4)} ${int(300_000)} ${len()}`],
    [3, () => `fallocate ${int(4)} ${off()} ${len()} ${int(2)}`],
    [4, () => `punch ${int(4)} ${off()} ${len()}`],
    [3, () => `zero ${int(4)} ${off()} ${len()}`],
    [5, () => `copy ${int(4)} ${off()} ${int(4)} ${int(100_000) * 65536 + int(65_536)}`],
    [3, () => `rename ${int(3)} ${int(3)}`],
    [3, () => `link ${int(3)} ${int(3)}`],
    [3, () => `unlink ${int(3)}`],
    [3, () => `fsync ${int(4)} ${int(2)}`],
  ];
  const total = table.reduce((s, [w]) => s + w, 0);
  while (ops.length < n) {
    let x = rnd() * total;
    for (const [w, f] of table) {
      if ((x -= w) < 0) {
        ops.push(f());
        break;
      }
    }
  }
  return ops;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Buffer): string {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}

interface FuzzOutcome {
  ok: boolean;
  detail: string;
  stdout: string;
}

async function runFuzz(bin: string, dir: string, ops: string[]): Promise<FuzzOutcome> {
  const r = await run(bin, ['fuzz', dir], { timeoutMs: 60_000, input: ops.join('\n') + '\n' });
  if (r.timedOut) return { ok: false, detail: 'TIMEOUT', stdout: r.stdout };
  const fail = r.stdout.split('\n').find((l) => l.startsWith('FAIL') || l.startsWith('SETUP'));
  if (fail || r.code !== 0) return { ok: false, detail: fail ?? `exit ${r.code} ${r.signal ?? ''} ${r.stderr.slice(0, 200)}`, stdout: r.stdout };
  return { ok: true, detail: '', stdout: r.stdout };
}

/** Compares the final model state printed by the fuzzer with the files in SRC. */
function compareWithSource(stdout: string, srcDir: string): string | undefined {
  for (const line of stdout.split('\n')) {
    const m = /^STATE (\S+) (.*)$/.exec(line);
    if (!m) continue;
    const p = path.join(srcDir, m[1]!);
    let actual: string;
    try {
      const b = fs.readFileSync(p);
      actual = `${b.length} ${crc32(b)}`;
    } catch (e) {
      actual = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : String(e);
    }
    if (actual !== m[2]) return `SRC ${m[1]}: ${actual}, model ${m[2]}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Main

interface PolicyStats {
  policy: string;
  cases: number;
  opsCompared: number;
  mismatches: number;
  allowedMismatches: number;
  selfChecksFailed: number;
  seeds: number;
  seedsFailed: number;
  fuzzExecuted: number;
  /** From the mirror's --stats-file at exit: opens by mode, and error counts. */
  opens?: string;
  error?: string;
  seconds: number;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  if (process.getuid?.() !== 0) {
    console.error('conformance: must run as root (FUSE mounts, chown, seteuid, trusted.* xattrs, RENAME_WHITEOUT)');
    return 2;
  }
  const allow = loadAllowList();
  const cases: Case[] = opts.cases ? CASES.filter((c) => c.name.includes(opts.cases!)) : CASES;
  const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-conformance-')));
  const bin = path.join(work, 'posix-ops');
  const mismatches: Mismatch[] = [];
  const stats: PolicyStats[] = [];
  const fuzzFailures: string[] = [];
  const selfCheckFailures: string[] = [];
  let live: { proc?: MirrorProcess; dirs?: TempDirs } = {};

  const cleanupLive = () => {
    if (live.proc) live.proc.kill();
    if (live.dirs) {
      forceUnmount(live.dirs.mnt);
      live.dirs.cleanup();
    }
  };
  const onSignal = () => {
    cleanupLive();
    fs.rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const cc = await run('gcc', ['-O1', '-Wall', '-o', bin, path.join(CONF_SRC, 'posix-ops.c')], { timeoutMs: 60_000 });
    if (cc.code !== 0) throw new Error(`gcc failed:\n${cc.stderr}`);

    // ---- the source (plain ext4 directory)
    const plain = path.join(work, 'plain');
    fs.mkdirSync(plain);
    const baseline = new Map<string, string[]>();
    for (const c of cases) {
      const lines = await runScript(bin, path.join(plain, c.name), c.script);
      baseline.set(c.name, lines);
      if (c.selfCheck) checkSelf(c, 'source', lines, selfCheckFailures);
    }
    console.log(`source: ${cases.length} cases, ${[...baseline.values()].reduce((s, l) => s + l.length, 0)} operations (${work}/plain)`);

    // ---- each policy
    for (const policy of opts.policies) {
      const t0 = Date.now();
      const st: PolicyStats = { policy, cases: 0, opsCompared: 0, mismatches: 0, allowedMismatches: 0, selfChecksFailed: 0, seeds: 0, seedsFailed: 0, fuzzExecuted: 0, seconds: 0 };
      stats.push(st);
      const dirs = makeTempDirs('fusekit-conf-');
      live = { dirs };
      let watchdogFired = false;
      const watchdog = setTimeout(() => {
        watchdogFired = true;
        forceUnmount(dirs.mnt);
        live.proc?.kill();
      }, 180_000);
      try {
        const program = policy === 'paths' ? PATH_MIRROR : undefined;
        const proc = await spawnMirror(dirs.src, dirs.mnt, mirrorArgs(policy, path.join(dirs.root, 'stats.json')), { readyTimeoutMs: 15_000, program });
        live.proc = proc;
        for (const c of cases) {
          if (watchdogFired) throw new Error('watchdog fired (180 s): mount aborted');
          const lines = await runScript(bin, path.join(dirs.mnt, c.name), c.script);
          st.cases++;
          if (c.selfCheck) {
            if (!checkSelf(c, policy, lines, selfCheckFailures)) st.selfChecksFailed++;
            st.opsCompared += lines.length;
            continue;
          }
          const base = baseline.get(c.name) ?? [];
          const n = Math.max(base.length, lines.length);
          for (let i = 0; i < n; i++) {
            const s = base[i] ?? '(missing)';
            const m = lines[i] ?? '(missing)';
            st.opsCompared++;
            if (s === m) continue;
            const sp = splitResult(s);
            const mp = splitResult(m);
            const opNo = /^(\d+) /.exec(sp.op)?.[1] ?? String(i + 1);
            const isAllowed = allowed(allow, c.name, policy, opNo);
            mismatches.push({ caseName: c.name, policy, op: sp.op || mp.op, source: sp.result || s, mirror: mp.result || m, allowed: isAllowed });
            if (isAllowed) st.allowedMismatches++;
            else st.mismatches++;
          }
        }

        if (opts.fuzz) {
          for (let seed = 1; seed <= opts.seeds; seed++) {
            if (watchdogFired) throw new Error('watchdog fired (180 s): mount aborted');
            const ops = genOps(seed, opts.ops);
            const name = `fuzz-${seed}`;
            st.seeds++;
            const r = await runFuzz(bin, path.join(dirs.mnt, name), ops);
            st.fuzzExecuted += Number(/executed=(\d+)/.exec(r.stdout)?.[1] ?? 0);
            const problem = r.ok ? compareWithSource(r.stdout, path.join(dirs.src, name)) : r.detail;
            if (!problem) continue;
            st.seedsFailed++;
            let report = `[${policy}] seed ${seed}: ${problem}`;
            if (!r.ok) {
              const min = await shrink(bin, dirs.mnt, `fuzz-${seed}-shrink`, ops);
              report += `\n    minimal reproduction (${min.ops.length} ops, posix-ops fuzz < ops): ${min.detail}\n      ` + min.ops.join('\n      ');
            }
            fuzzFailures.push(report);
          }
        }
        await proc.stop('SIGTERM', 10_000);
        const ex = proc.exitInfo();
        if (ex && ex.code !== 0) st.error = `mirror exited with code ${ex.code} signal ${ex.signal} on SIGTERM`;
        const j = readStats(path.join(dirs.root, 'stats.json'));
        if (j) {
          const o = j.passthrough?.opens ?? {};
          st.opens = Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ');
          const fb = Object.entries(j.passthrough?.fallbacks ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
          if (fb) st.opens += ` fallbacks: ${fb}`;
          if (j.passthrough?.conflicts) st.opens += ` conflicts=${j.passthrough.conflicts}`;
        } else {
          st.opens = '(no stats file)';
        }
      } catch (err) {
        st.error = (err as Error).message.split('\n')[0];
        st.mismatches++;
      } finally {
        clearTimeout(watchdog);
        if (live.proc && !live.proc.exitInfo()) await live.proc.stop('SIGTERM', 10_000);
        forceUnmount(dirs.mnt);
        dirs.cleanup();
        live = {};
        st.seconds = (Date.now() - t0) / 1000;
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true, maxRetries: 3 });
  }

  // ---- report
  console.log('');
  if (mismatches.length) {
    console.log('Mismatches (source result vs mirror result):');
    const byKey = new Map<string, Mismatch[]>();
    for (const m of mismatches) {
      const k = `${m.caseName}\u0000${m.op}\u0000${m.source}\u0000${m.mirror}`;
      (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(m);
    }
    for (const group of byKey.values()) {
      const m = group[0]!;
      const pols = group.map((g) => g.policy).join(',');
      console.log(`  ${m.allowed ? '(known) ' : ''}${m.caseName} [${pols}] op ${short(m.op, 100)}`);
      console.log(`      source: ${short(m.source)}`);
      console.log(`      mirror: ${short(m.mirror)}`);
    }
    console.log('');
  }
  if (selfCheckFailures.length) {
    console.log('Self-check failures:');
    for (const f of selfCheckFailures) console.log('  ' + f);
    console.log('');
  }
  if (fuzzFailures.length) {
    console.log('Random-operation failures:');
    for (const f of fuzzFailures) console.log('  ' + f);
    console.log('');
  }
  console.log('policy    cases  ops-compared  mismatches  known  self-check-fail  seeds  seeds-failed  fuzz-ops-run  seconds');
  for (const s of stats) {
    console.log(
      `${s.policy.padEnd(9)} ${String(s.cases).padStart(5)}  ${String(s.opsCompared).padStart(12)}  ${String(s.mismatches).padStart(10)}  ${String(s.allowedMismatches).padStart(5)}  ${String(s.selfChecksFailed).padStart(15)}  ${String(s.seeds).padStart(5)}  ${String(s.seedsFailed).padStart(12)}  ${String(s.fuzzExecuted).padStart(12)}  ${s.seconds.toFixed(1).padStart(7)}${s.error ? '  ERROR: ' + s.error : ''}`,
    );
  }
  console.log('\nmirror opens by mode (from --stats-file):');
  for (const s of stats) console.log(`  ${s.policy.padEnd(9)} ${s.opens ?? '-'}`);
  const unexpected = stats.reduce((n, s) => n + s.mismatches + s.selfChecksFailed + s.seedsFailed, 0) + selfCheckFailures.filter((f) => f.startsWith('[source]')).length;
  const leftover = fuseMounts().filter((m) => m.mountPoint.includes('fusekit-conf-'));
  console.log(
    `\n${cases.length} cases x ${stats.length} mirror targets (+ source), ${stats.reduce((n, s) => n + s.opsCompared, 0)} operations compared, ` +
      `${stats.reduce((n, s) => n + s.seeds, 0)} seeds x ${opts.ops} random ops (${stats.reduce((n, s) => n + s.fuzzExecuted, 0)} applicable, each followed by a full check), ` +
      `${unexpected} unexpected failures, ${stats.reduce((n, s) => n + s.allowedMismatches, 0)} known differences, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (leftover.length) {
    console.log(`LEFTOVER MOUNTS: ${leftover.map((m) => m.mountPoint).join(' ')}`);
    for (const m of leftover) forceUnmount(m.mountPoint);
    return 1;
  }
  return unexpected > 0 ? 1 : 0;
}

function checkSelf(c: Case, target: string, lines: string[], failures: string[]): boolean {
  const bad = lines.filter((l) => !l.endsWith('=> ok'));
  if (bad.length === 0 && lines.length > 0) return true;
  failures.push(`[${target}] ${c.name}: ${bad.map((l) => short(l, 300)).join(' | ') || 'no output'}`);
  return false;
}

/** Removes operations one at a time while the list still fails; returns the shortest found. */
async function shrink(bin: string, mnt: string, prefix: string, ops: string[]): Promise<{ ops: string[]; detail: string }> {
  let cur = ops;
  let detail = '';
  // First cut: the failing step is the last one needed.
  let k = 0;
  const first = await runFuzz(bin, path.join(mnt, `${prefix}-${k++}`), cur);
  if (first.ok) return { ops: cur, detail: 'did not fail again (flaky)' };
  detail = first.detail;
  const step = Number(/^FAIL (\d+)/.exec(first.detail)?.[1] ?? cur.length);
  cur = cur.slice(0, step);
  const deadline = Date.now() + 90_000;
  let changed = true;
  while (changed && Date.now() < deadline) {
    changed = false;
    for (let i = cur.length - 1; i >= 0 && Date.now() < deadline; i--) {
      const cand = cur.slice(0, i).concat(cur.slice(i + 1));
      if (cand.length === 0) continue;
      const r = await runFuzz(bin, path.join(mnt, `${prefix}-${k++}`), cand);
      if (!r.ok) {
        cur = cand;
        detail = r.detail;
        changed = true;
      }
    }
  }
  return { ops: cur, detail };
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
