/**
 * The run's environment: the load tool (benchtool.c built with gcc, or its
 * Node twin) and fio, the scratch directory, the tarball the untar rows
 * extract, and signs of other activity on the machine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { forceUnmount, fuseMounts, mountsUnder } from '../test/helpers/mounttable.js';
import { REPO_ROOT } from '../test/helpers/repo.js';
import { sleep } from '../test/helpers/wait.js';
import type { Options } from './options.js';
import { run, runOk } from './proc.js';
import { log } from './shutdown.js';

/** Where the compiled bench lives (dist/bench). */
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The program that runs the create/stat/unlink loops, the random reads without fio, and mktree. */
export interface LoadTool {
  kind: 'c' | 'node';
  describe: string;
  cmd: string;
  args: string[];
}

/** The one JSON line the load tool prints. */
export interface ToolOutput {
  ops: number;
  bytes: number;
  seconds: number;
}

/** The tarball of the untar rows and what is in it. */
export interface TreeInfo {
  path: string;
  from: string;
  files: number;
  symlinks: number;
  dirs: number;
  /** Every entry in the tarball: directories (the top one included), files, symlinks. */
  entries: number;
  bytes: number;
  tarBytes: number;
  /** Set when a cap (--tree-mb, or the entry cap of the parallel tree) cut the tree short. */
  capped: boolean;
  /** `uid:gid` every entry is archived as, when not the files' own (see makeTarball). */
  owner?: string;
}

/** Everything a phase needs to know about the run. */
export interface Env {
  opts: Options;
  tool: LoadTool;
  fio?: string;
  tree: TreeInfo;
  /** The smaller tarball each client of the parallel section untars (undefined without that section). */
  parTree?: TreeInfo;
  work: string;
  /** Signs of other activity seen during the run (foreign FUSE mounts, load). */
  disturbance: string[];
}

/** The first line of `cmd args` when it runs and exits 0 (a version string), else undefined. */
export function which(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return undefined;
  return (r.stdout || r.stderr).trim().split('\n')[0];
}

/** Builds benchtool.c into `work` with gcc, or falls back to dist/bench/tool.js. */
export async function loadTool(work: string): Promise<LoadTool> {
  const source = path.join(REPO_ROOT, 'bench', 'benchtool.c');
  const bin = path.join(work, 'benchtool');
  if (which('gcc', ['--version']) && fs.existsSync(source)) {
    const r = await run('gcc', ['-O2', '-o', bin, source], { timeoutMs: 60_000 });
    if (r.code === 0) return { kind: 'c', describe: 'bench/benchtool.c (gcc -O2, built at run time)', cmd: bin, args: [] };
    log(`bench: gcc could not build ${source} (${r.stderr.trim().split('\n')[0] ?? ''}); using the Node fallback`);
  }
  return { kind: 'node', describe: 'dist/bench/tool.js (Node; gcc not available)', cmd: process.execPath, args: [path.join(HERE, 'tool.js')] };
}

const SCRATCH_DIRS = ['src-direct', 'src-pt', 'mnt-pt', 'src-nopt', 'mnt-nopt', 'mem-src', 'mem-mnt', 'work'];

/**
 * Makes the scratch directory afresh (detaching a leftover mount under it
 * first); refuses a non-empty directory the bench did not make.
 */
export function prepareScratch(dir: string, extraDirs: string[] = []): void {
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
 * whole directory, or its first `cap` bytes of regular files with --tree-mb,
 * or its first `maxEntries` entries (named `name` in `work`).
 * With `owner`, every entry is archived as that user's: root's tar gives each
 * extracted entry its archived owner, and an ordinary user's mirror can give
 * a file only to that user, so on every target the untar then makes the same
 * chown calls and all of them succeed.
 */
export async function makeTarball(
  work: string,
  cap: number | undefined,
  owner?: { uid: number; gid: number },
  maxEntries = Infinity,
  name = 'tree',
): Promise<TreeInfo> {
  const candidates = ['/usr/include', '/usr/share/doc', path.join(REPO_ROOT, 'node_modules')];
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
      if (bytes >= limit || list.length >= maxEntries) {
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
  const listFile = path.join(work, `${name}.list`);
  fs.writeFileSync(listFile, list.join('\0') + '\0');
  const tarball = path.join(work, `${name}.tar`);
  const ownerArgs = owner ? [`--owner=${owner.uid}`, `--group=${owner.gid}`] : [];
  await runOk('tar', ['-cf', tarball, '-C', parent, ...ownerArgs, '--null', '--no-recursion', '-T', listFile], { timeoutMs: 600_000 });
  return {
    path: tarball, from: root, files, symlinks, dirs, entries: list.length, bytes, tarBytes: fs.statSync(tarball).size, capped,
    ...(owner ? { owner: `${owner.uid}:${owner.gid}` } : {}),
  };
}
/** Records FUSE mounts that are not ours (someone else's servers compete for the CPUs). */
export function noteDisturbance(env: Env, when: string): void {
  const dir = env.opts.dir;
  const fuse = fuseMounts()
    .map((e) => e.mountPoint)
    .filter((m) => !(m === dir || m.startsWith(dir + '/')));
  if (fuse.length) {
    env.disturbance.push(
      `at ${when}: ${fuse.length} other FUSE mount${fuse.length > 1 ? 's' : ''} ` + `(${fuse.slice(0, 2).join(', ')}${fuse.length > 2 ? ', ...' : ''})`,
    );
  }
}

/** Share of CPU time not idle over `ms`, machine-wide (sampled before any workload runs). */
export async function busyShare(ms: number): Promise<number> {
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
