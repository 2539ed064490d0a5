/**
 * The lines above the table: the machine (kernel, CPUs, Node, how idle CPUs
 * wait), the baseline filesystem, sizes and tree, the repetitions and their
 * target order, the random-read tool, and how each mirror actually ran.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fmtNum, MiB } from './format.js';
import type { RenderInput } from './report.js';
import { mirrorTargets, type TargetState } from './targets.js';

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

/** The header of the report, one string per line. */
export function headerLines(x: RenderInput): string[] {
  const { env, targets } = x;
  const { opts, tree } = env;
  const { source: src, pt, nopt: np, user, ref } = targets;
  const mirrorsOf = mirrorTargets(targets);
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
    `${opts.reps} repetition${opts.reps > 1 ? 's' : ''}, targets back to back per workload, walked twice (creating pass: data rows, create, untar${opts.parallel ? `, ${opts.clients} x untar` : ''}; ` +
      `then deleting pass: stat + unlink, find + rm -rf${opts.parallel ? `, ${opts.clients} x find -ls + rm -rf` : ''}); order per repetition: ${x.order.map((o) => o.join('>')).join(' | ')}`,
  );
  lines.push(`random reads: ${env.fio ? `${env.fio}, --ioengine=psync --direct=0 --invalidate=0 --fadvise_hint=0` : `${env.tool.describe}, pread at random 4 KiB-aligned offsets`}`);
  if (!env.fio) lines.push('NOTE: fio is not installed; `apt-get install fio` gives the fio-based random-read rows (this run used the built-in fallback).');
  const modeLine = (t: TargetState) => {
    if (t.skipped) return `${t.title}: SKIPPED (${t.skipped})`;
    if (t.error && !t.mirrorArgs) return `${t.title}: NOT RUN (${t.error})`;
    if (t.flagRejected) return `${t.title}: WARNING: this ${t.reference ? 'program' : 'fusekit'} rejects --passthrough (exit 2 "unknown option"); ran WITHOUT the flag, so this column is NOT ${t.mode === 'always' ? 'passthrough' : 'an explicit no-passthrough run'}`;
    return `${t.title}: ran with ${t.mirrorArgs?.join(' ') ?? '?'} (accepted; ${t.startMessage?.split('\n')[0] ?? ''})`;
  };
  lines.push(`mirrors: ${modeLine(pt)}`);
  lines.push(`         ${modeLine(np)}`);
  if (user) {
    const who = user.runAs ? ` as ${user.runAs.name} (uid ${user.runAs.uid}) through setpriv, mounted through fusermount3` : '';
    lines.push(`         ${modeLine(user)}${who}`);
    const conf = user.fuseConf;
    if (conf?.kind === 'already') lines.push('         /etc/fuse.conf already had user_allow_other (needed for -o allow_other, so that root\'s workloads reach the mount); not changed');
    if (conf?.kind === 'added') {
      lines.push(
        `         /etc/fuse.conf: user_allow_other (needed for -o allow_other, so that root's workloads reach the mount) was ADDED at ${conf.addedAt?.toISOString() ?? '?'} ` +
          `for the moment of that mount only (fusermount3 reads it when mounting) and taken out ${conf.heldSeconds?.toFixed(1) ?? '?'} s later: ${conf.restore ?? 'NOT RESTORED'}`,
      );
    }
  }
  if (ref) lines.push(`         ${modeLine(ref)} [--reference ${ref.cli}]`);
  if (pt.flagRejected && np.flagRejected) lines.push('WARNING: both mirror columns measured the same (default) mirror; passthrough was NOT measured.');
  return lines;
}
