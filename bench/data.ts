/**
 * The data workloads: sequential write and reads with dd (timed by dd
 * itself), and 4 KiB random reads with fio (psync, buffered), or the load
 * tool's pread loop when fio is not installed.
 */
import * as path from 'node:path';
import { fmtNum, MiB } from './format.js';
import { runOk, ToolError, type RunResult } from './proc.js';
import { dropCaches, syncAll, timeoutFor, type Bench } from './runner.js';
import { log } from './shutdown.js';
import type { TargetState } from './targets.js';

/** dd's own elapsed time (covers the copy and conv=fsync, not process start-up), else wall clock. */
function ddSeconds(r: RunResult): number {
  const m = /copied, ([0-9.e+-]+) s/.exec(r.stderr);
  const s = m ? Number(m[1]) : NaN;
  return Number.isFinite(s) && s > 0 ? s : r.seconds;
}

/** The sequential file of a target (also the random-read file). */
export function seqFile(t: TargetState): string {
  return path.join(t.root, 'seq.dat');
}

async function fioOrTool(b: Bench, t: TargetState, f: string, limit: number, runtime: number): Promise<{ iops: number; raw: unknown }> {
  b.check(t);
  if (b.env.fio) {
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
  const o = await b.tool(t, ['randread', f, '4096', String(runtime), String(limit)], runtime * 1000 + 180_000);
  return { iops: o.ops / o.seconds, raw: o };
}

/** Untimed: creates seq.dat, so that every timed write rewrites blocks its own file just freed. */
export async function warmupWrite(b: Bench, t: TargetState): Promise<void> {
  const { opts } = b.env;
  const f = seqFile(t);
  const mib = opts.size / MiB;
  await b.step(t, 0, [], 'warm-up write', async () => {
    b.check(t);
    const r = await runOk('dd', ['if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, 'conv=fsync'], { timeoutMs: timeoutFor(opts.size) });
    log(`  [${t.key}] warm-up write (not counted): ${fmtNum(mib / ddSeconds(r))} MiB/s`);
  });
  await b.mark(t, 'setup', 0);
}

/**
 * One dd row: `prepare` (untimed), then dd with `args` `reads` times, timed by
 * dd itself; the median is recorded (with every read's rate when more than one).
 */
async function ddRow(b: Bench, t: TargetState, rep: number, id: string, what: string, prepare: () => Promise<unknown>, args: string[], reads = 1): Promise<void> {
  const { opts } = b.env;
  await b.step(t, rep, [id], what, async () => {
    await prepare();
    b.check(t);
    const runs: { mibps: number; seconds: number; wall: number }[] = [];
    for (let i = 0; i < reads; i++) {
      const r = await runOk('dd', args, { timeoutMs: timeoutFor(opts.size) });
      const s = ddSeconds(r);
      runs.push({ mibps: opts.size / MiB / s, seconds: s, wall: r.seconds });
    }
    runs.sort((x, y) => x.mibps - y.mibps);
    const mid = runs[Math.floor(runs.length / 2)]!;
    b.record(t, id, rep, mid.mibps, { seconds: mid.seconds, wall: mid.wall, ...(reads > 1 ? { reads: runs.map((x) => Math.round(x.mibps)) } : {}) });
  });
  await b.mark(t, id, rep);
}

/** seq write + fsync: `rm -f F; sync`, then dd from /dev/zero with conv=fsync. */
export function seqwrite(b: Bench, t: TargetState, rep: number): Promise<void> {
  const f = seqFile(t);
  const mib = b.env.opts.size / MiB;
  return ddRow(b, t, rep, 'seqwrite', 'seq write', async () => {
    await b.sh(t, 'rm', ['-f', f]);
    await syncAll();
  }, ['if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, 'conv=fsync']);
}

/** seq read, cold: drop caches, then dd to /dev/null. */
export function seqreadCold(b: Bench, t: TargetState, rep: number): Promise<void> {
  const f = seqFile(t);
  return ddRow(b, t, rep, 'seqread_cold', 'seq read cold', () => dropCaches(), [`if=${f}`, 'of=/dev/null', 'bs=1M']);
}

/** Reads timed per repetition of the warm row: page-cache copies swing by a third from one dd to the next on the VM. */
const WARM_READS = 3;

/**
 * seq read, warm: one untimed dd, then WARM_READS timed ones, the median
 * recorded. Back-to-back reads of one cached file by one server measured
 * 13-21 GiB/s for the source and both passthrough servers alike, so a
 * single read per repetition made the row a draw.
 */
export function seqreadWarm(b: Bench, t: TargetState, rep: number): Promise<void> {
  const read = [`if=${seqFile(t)}`, 'of=/dev/null', 'bs=1M'];
  return ddRow(b, t, rep, 'seqread_warm', 'seq read warm', () => b.sh(t, 'dd', read, timeoutFor(b.env.opts.size)), read, WARM_READS);
}

/** rand read 4K, cold start: drop caches, then random reads over the whole file. */
export async function randreadCold(b: Bench, t: TargetState, rep: number): Promise<void> {
  const { opts } = b.env;
  const f = seqFile(t);
  await b.step(t, rep, ['randread'], 'rand read cold', async () => {
    await dropCaches();
    const o = await fioOrTool(b, t, f, opts.size, opts.runtime);
    b.record(t, 'randread', rep, o.iops, o.raw);
  });
  await b.mark(t, 'randread', rep);
}

/** rand read 4K, warm: read the first min(256 MiB, file) once through the target, then random reads within it. */
export async function randreadWarm(b: Bench, t: TargetState, rep: number): Promise<void> {
  const { opts } = b.env;
  const f = seqFile(t);
  const warmMiB = Math.min(256, opts.size / MiB);
  await b.step(t, rep, ['randread_warm'], 'rand read warm', async () => {
    // Read the region once (through this target) so all of it is in the page cache; no drop.
    await b.sh(t, 'dd', [`if=${f}`, 'of=/dev/null', 'bs=1M', `count=${warmMiB}`], timeoutFor(warmMiB * MiB));
    const o = await fioOrTool(b, t, f, warmMiB * MiB, opts.warmRuntime);
    b.record(t, 'randread_warm', rep, o.iops, o.raw);
  });
  await b.mark(t, 'randread_warm', rep);
}
