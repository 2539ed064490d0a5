/**
 * `npm run bench`: the same workloads on the source filesystem itself, on a
 * `fusekit mirror` with kernel passthrough (`--passthrough always`) and on one
 * without (`--passthrough never`), then one table of medians and of ratios
 * against the source (higher is better).
 *
 *   npm run bench -- [--size 512M] [--files 10000] [--reps 3] [--runtime 10]
 *                    [--warm-runtime 5] [--tree-mb CAP] [--mem-entries 200000]
 *                    [--no-memory] [--no-profile] [--quick] [--out FILE.json]
 *                    [--dir DIR] [--cli PATH] [--user] [--reference CLI] [--keep]
 *                    [--clients N] [--no-parallel] [--slow-ms D] [--no-slow-source]
 *
 * The targets are interleaved: both mirrors stay mounted for the whole timed
 * part, and for every repetition and every workload the targets run back
 * to back (in an order rotated between repetitions), so a drift in the speed of
 * the underlying filesystem hits all of them alike. The ratio reported is the
 * median of the per-repetition ratios (mirror / source of the same repetition).
 * `--user` adds the mirror as an ordinary user would run it (nobody, mounted
 * through fusermount3, no passthrough), interleaved too; `--reference CLI`
 * another mirror program started the same way as fusekit's (e.g. a wrapper
 * around libfuse's passthrough_hp). Two sections follow the main table: N
 * clients at once on the source, the passthrough mirror and the reference
 * (parallel.ts, in the same two passes), and the mirrors mounted on a source
 * whose metadata requests wait a known time (slow.ts, slow-source.ts).
 *
 * Every workload runs in a child process (dd, fio, tar, find, rm, and a small
 * C program compiled at run time, or its Node twin), each with a deadline;
 * the mirrors are separate processes too. Nothing here blocks on a mount.
 * On Ctrl-C, a signal or a failure the mirrors are stopped with SIGTERM, then
 * aborted through fusectl and detached with `umount -l` if they don't go.
 *
 * The pieces, one concern each: options.ts (command line), environment.ts
 * (tools, scratch directory, tarball), targets.ts, servers.ts and mounts.ts
 * (the targets and their mirror servers), unprivileged.ts (the user's mirror:
 * what it needs, /etc/fuse.conf for its mount), runner.ts (what every timed step
 * shares), timed.ts (the two passes), data.ts and metadata.ts (the
 * workloads), parallel.ts (the parallel section), slow.ts and slow-source.ts
 * (the slow-source section), profile.ts (requests per operation), memory.ts
 * (memory phase), rows.ts, report.ts, sections.ts, header.ts and format.ts
 * (the tables), shutdown.ts (no
 * mount left behind), proc.ts (child processes), tool.ts (the Node load tool).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyShare, loadTool, makeTarball, noteDisturbance, prepareScratch, which, type Env } from './environment.js';
import { fmtNum, median, MiB, present } from './format.js';
import { memoryPhase, type MemoryResult } from './memory.js';
import { defineParallelRows, parallelTargets } from './parallel.js';
import { renderParallel, renderSlow } from './sections.js';
import { SLOW_DIRS, slowSourcePhase, type SlowResult } from './slow.js';
import { parseArgs, USAGE, UsageError, type Options } from './options.js';
import { profile as profileRequests, type ProfileResult } from './profile.js';
import { hasRequestCounts, medianRatio, render, repRatios } from './report.js';
import { defineRows, FLOORS, MEM_PEAK_TARGET_MIB } from './rows.js';
import { Bench } from './runner.js';
import { startTargetMirrors, stopTargetMirrors } from './servers.js';
import { Aborted, detachScratchMounts, emergencyExit, installSignalHandlers, log, onExit, removeScratch, setScratch } from './shutdown.js';
import { extraTargets, makeTargets, targetList } from './targets.js';
import { removeLeftoverGrant, resolveUser, restoreFuseConf } from './unprivileged.js';
import { runTimedPart } from './timed.js';

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
  // --user changes /etc/fuse.conf for the moment of one mount: however the run ends, it is put back.
  onExit(() => void restoreFuseConf());
  const leftover = removeLeftoverGrant();
  if (leftover) log(`bench: ${leftover}`);
  setScratch(opts.dir, opts.keep);
  prepareScratch(opts.dir, [
    ...(opts.cacheTargets ? ['src-unwatched', 'mnt-unwatched', 'src-excl', 'mnt-excl'] : []),
    ...(opts.user ? ['src-user', 'mnt-user'] : []),
    ...(opts.reference !== undefined ? ['src-ref', 'mnt-ref'] : []),
    ...(opts.slowSource ? SLOW_DIRS : []),
  ]);
  const work = path.join(opts.dir, 'work');

  const fio = which('fio', ['--version']);
  if (!fio) log('bench: fio is not installed; `apt-get install fio` gives the fio-based random-read rows. Using the built-in fallback.');
  const tool = await loadTool(work);
  log(`bench: load tool: ${tool.describe}; random reads: ${fio ?? 'fallback'}`);
  const user = opts.user ? resolveUser() : undefined;
  const tree = await makeTarball(work, opts.treeCap, typeof user === 'object' ? user : undefined);
  log(
    `bench: tarball ${tree.path}: ${fmtNum(tree.tarBytes / MiB, 1)} MiB, ${tree.entries} entries (${tree.files} files, ${tree.symlinks} symlinks, ${tree.dirs} dirs) ` +
      `from ${tree.from}${tree.capped ? ' (capped by --tree-mb)' : ''}${tree.owner ? `, entries owned by ${tree.owner}` : ''}`,
  );
  const parTree = opts.parallel ? await makeTarball(work, undefined, undefined, opts.parEntries, 'par-tree') : undefined;
  if (parTree) log(`bench: parallel section's tarball ${parTree.path}: ${parTree.entries} entries (${parTree.files} files, ${parTree.dirs} dirs) from ${parTree.from}`);
  const env: Env = { opts, tool, fio, tree, work, disturbance: [], ...(parTree ? { parTree } : {}) };
  const defs = defineRows(env);
  const parDefs = opts.parallel ? defineParallelRows(env) : [];
  const busy = await busyShare(1000);
  log(`bench: machine busy ${(busy * 100).toFixed(0)}% over 1 s before the first workload`);
  if (busy > 0.15) env.disturbance.push(`the CPUs were ${(busy * 100).toFixed(0)}% busy (not idle) in the second before the first workload`);

  const targets = makeTargets(opts);
  const bench = new Bench(env, targets);
  let profile: ProfileResult | undefined;
  let memory: MemoryResult | undefined;
  let slow: SlowResult | undefined;
  try {
    log('\n== starting the mirrors (they stay mounted for the whole timed part)');
    await startTargetMirrors(bench, work, opts.cli);
    await runTimedPart(bench);
    if (opts.profile) profile = await profileRequests(bench, targets.pt);
  } finally {
    await stopTargetMirrors(bench);
  }
  for (const t of targetList(targets)) for (const r of Object.values(t.rows)) r.median = median(present(r.values));
  if (opts.slowSource) slow = await slowSourcePhase(env);
  if (opts.memory) memory = await memoryPhase(env);
  noteDisturbance(env, 'the end');

  const total = (Date.now() - t0) / 1000;
  const sections = [...(opts.parallel ? renderParallel(env, targets, parDefs) : []), ...(slow ? renderSlow(slow) : [])];
  const table = render({ env, targets, defs, order: bench.order, profile, memory, sections, totalSeconds: total });
  process.stdout.write('\n' + table);
  if (opts.out) {
    const ratios: Record<string, Record<string, { perRep: (number | null)[]; median?: number }>> = {};
    for (const def of defs) {
      if (def.kind === 'memory') continue;
      ratios[def.id] = {
        pt: { perRep: repRatios(def, targets.source, targets.pt), median: medianRatio(def, targets.source, targets.pt) },
        nopt: { perRep: repRatios(def, targets.source, targets.nopt), median: medianRatio(def, targets.source, targets.nopt) },
        ...Object.fromEntries(extraTargets(targets).map((t) => [t.key, { perRep: repRatios(def, targets.source, t), median: medianRatio(def, targets.source, t) }])),
      };
    }
    const sectionRatios = (ds: typeof defs, base: typeof targets.source, others: typeof targets.source[]) =>
      Object.fromEntries(ds.map((def) => [def.id, Object.fromEntries(others.map((t) => [t.key, { perRep: repRatios(def, base, t), median: medianRatio(def, base, t) }]))]));
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
      parallel: opts.parallel ? { rows: parDefs, ratios: sectionRatios(parDefs, targets.source, parallelTargets(targets).slice(1)) } : null,
      slowSource: slow ? { ...slow, ratios: sectionRatios(slow.defs, slow.targets.source, targetList(slow.targets).slice(1)) } : null,
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
  const failedTarget = (t: typeof targets.source) => !!t.error || Object.values(t.rows).some((r) => r.errors.length > 0);
  const failed =
    targetList(targets).some(failedTarget) || !!profile?.error || !!memory?.error || !!slow?.error || (slow !== undefined && targetList(slow.targets).some(failedTarget));
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Leak check: nothing of ours may stay mounted.
    detachScratchMounts();
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof Aborted) return; // emergencyExit is finishing up
    log(`bench: ${(err as Error)?.stack ?? String(err)}`);
    void emergencyExit('failure', 1);
  },
);
