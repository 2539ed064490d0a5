/**
 * The memory phase: a fresh passthrough mirror over a tree of many empty
 * files, its resident memory and descriptors before, during and after a
 * `find` over it, and how long it takes to give memory back after
 * drop_caches.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mountAt } from '../test/helpers/mounttable.js';
import { fdCount, procStatus } from '../test/helpers/proc.js';
import { sleep } from '../test/helpers/wait.js';
import type { Env, ToolOutput } from './environment.js';
import { fmtMiB, fmtNum, subCounts } from './format.js';
import { statsAfter, statsDelta, type Mirror } from './mounts.js';
import { run, runOk, ToolError, type RunResult } from './proc.js';
import { MEM_FILES_PER_DIR } from './rows.js';
import { dropCaches, syncAll } from './runner.js';
import { startMirror, stopMirror } from './servers.js';
import { guard, log, rethrowIfAborted } from './shutdown.js';

/** What the memory phase measured; see bench/README.md, "Memory phase". */
export interface MemoryResult {
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

/** Open descriptors of a process (undefined once it is gone). */
function fdsOf(pid: number): number | undefined {
  try {
    return fdCount(pid);
  } catch {
    return undefined;
  }
}

/** Builds the tree, mounts a fresh passthrough mirror over it, walks it with find and drops the caches. */
export async function memoryPhase(env: Env): Promise<MemoryResult> {
  const { opts, tool, work } = env;
  const dirs = Math.ceil(opts.memEntries / MEM_FILES_PER_DIR);
  const res: MemoryResult = { files: dirs * MEM_FILES_PER_DIR, dirs, entries: dirs * (MEM_FILES_PER_DIR + 1) + 1 };
  const src = path.join(opts.dir, 'mem-src');
  const mnt = path.join(opts.dir, 'mem-mnt');
  log(`\n== memory phase: ${fmtNum(res.files)} empty files in ${fmtNum(dirs)} directories, fresh passthrough mirror`);
  let mirror: Mirror | undefined;
  try {
    await dropCaches(); // untimed build; starts from clean caches (it follows the timed part's deletions, see timed.ts)
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
    res.fdsStart = fdsOf(pid);
    let fdsPeak = res.fdsStart ?? 0;
    const sampler = setInterval(() => {
      const n = fdsOf(pid);
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
    res.fdsAfterFind = fdsOf(pid);
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
    res.fdsAfterDrop = fdsOf(pid);
    const s2 = await statsAfter(mirror.statsFile, Date.now());
    res.dropRequests = statsDelta(s1, s2);
    res.nodesAfterDrop = s2?.nodes;
    log(`  after drop_caches: RSS ${fmtMiB(res.rssRightAfterDropKiB)} after 1 s, ${fmtMiB(res.rssAfterDropKiB)} ${res.settled ? 'back within 10 MiB of the start' : 'not back'} after ${res.settleSeconds.toFixed(1)} s; fds ${res.fdsAfterDrop}`);
  } catch (err) {
    rethrowIfAborted(err);
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
