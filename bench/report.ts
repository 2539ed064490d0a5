/**
 * The report printed at the end: per-repetition ratios and their medians, the
 * table with its floors, and the sections under it (per-repetition ratios,
 * the request profile, the memory phase, notes and errors).
 */
import type { Env } from './environment.js';
import { fmtCounts, fmtMiB, fmtNum, fmtRatio, fmtValue, median, pad, present, sumCounts, totalCount } from './format.js';
import { headerLines } from './header.js';
import type { MemoryResult } from './memory.js';
import type { ProfileResult } from './profile.js';
import { MEM_PEAK_TARGET_MIB, type RowDef } from './rows.js';
import { mirrorTargets, targetList, type TargetKey, type Targets, type TargetState } from './targets.js';

/** Each repetition's ratio of a target against the source (higher is better; null where either failed). */
export function repRatios(def: RowDef, src: TargetState, t: TargetState): (number | null)[] {
  const s = src.rows[def.id]?.values ?? [];
  const v = t.rows[def.id]?.values ?? [];
  return s.map((sv, i) => {
    const tv = v[i];
    if (sv === null || tv === null || tv === undefined || sv <= 0 || tv <= 0) return null;
    return def.kind === 'duration' ? sv / tv : tv / sv;
  });
}

/** The median of the per-repetition ratios (none for memory rows). */
export function medianRatio(def: RowDef, src: TargetState, t: TargetState): number | undefined {
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

/** False when a mirror's stats file reported no request at all over the run (a stub, as with --reference wrappers). */
export function hasRequestCounts(t: TargetState): boolean {
  return Object.values(t.windows).some((w) => totalCount(sumCounts(w)) > 0);
}

/** Everything the report is made from. */
export interface RenderInput {
  env: Env;
  targets: Targets;
  defs: RowDef[];
  order: TargetKey[][];
  profile?: ProfileResult;
  memory?: MemoryResult;
  /** The lines of the sections printed under the table (parallel, slow source). */
  sections?: string[];
  totalSeconds: number;
}

/** The whole report: header, table and the sections under it. */
export function render(x: RenderInput): string {
  const { env, targets, defs } = x;
  const { opts } = env;
  const { source: src, pt, nopt: np, user, ref } = targets;
  const mirrorsOf = mirrorTargets(targets);
  const lines = headerLines(x);
  lines.push('');

  const mem = x.memory;
  const cell = (t: TargetState, def: RowDef): string => {
    if (def.id === 'mem_peak' || def.id === 'mem_after') {
      if (t.key !== 'pt') return '-';
      const star = mem?.error ? ' *' : '';
      if (def.id === 'mem_peak') return mem?.peakKiB === undefined ? 'failed' : fmtMiB(mem.peakKiB) + star;
      return mem?.rssAfterDropKiB === undefined ? 'failed' : `${fmtMiB(mem.rssStartKiB)} -> ${fmtMiB(mem.rssAfterDropKiB)} in ${mem.settleSeconds?.toFixed(0)} s${star}`;
    }
    if (t.skipped) return 'skipped';
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
  const userHead = user?.flagRejected ? 'unprivileged (FLAG REJECTED)' : 'unprivileged';
  const refHead = ref?.flagRejected ? 'reference (FLAG REJECTED)' : 'reference';
  const policies = [targets.unwatched, targets.excl].filter((t): t is TargetState => t !== undefined);
  const header = [
    'workload', 'source', ptHead, 'ratio', npHead, 'ratio', ...policies.flatMap((t) => [t.title, 'ratio']), ...(user ? [userHead, 'ratio'] : []), ...(ref ? [refHead, 'ratio'] : []),
    'floor (goal)', 'pt vs floor', 'src swing', 'pt READ/WRITE reqs', ...(ref ? ['ref READ/WRITE reqs'] : []),
  ];
  const rows: string[][] = [header];
  for (const def of defs) {
    rows.push([
      def.label, cell(src, def), cell(pt, def), ratioCell(def, pt), cell(np, def), ratioCell(def, np),
      ...policies.flatMap((t) => [cell(t, def), ratioCell(def, t)]), ...(user ? [cell(user, def), ratioCell(def, user)] : []), ...(ref ? [cell(ref, def), ratioCell(def, ref)] : []),
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
    `source/passthrough/no passthrough${user ? '/unprivileged' : ''}${ref ? '/reference' : ''}: median over the repetitions. ratio: median of the per-repetition ratios (mirror / source of the same repetition; ` +
      'for the s rows source time / mirror time); higher is better. floor (goal): the passthrough ratio to meet; pt vs floor compares at the 2 decimals shown. ' +
      'src swing: max/min of the source over the repetitions.' +
      (user
        ? ` unprivileged: the same mirror run as ${user.runAs?.name ?? 'an ordinary user'} (mounted through fusermount3 with -o allow_other, no passthrough: ` +
          'an ordinary user cannot register backing files), driven by the same root workloads; its ratio against the passthrough column is what passthrough buys.'
        : '') +
      (ref
        ? ` reference: ${ref.cli} (--reference), another mirror program started like the fusekit CLI with --passthrough always, ` +
          'interleaved with the others in the same run; its ratio is for comparison only (no floor).'
        : ''),
  );
  if (policies.length) {
    lines.push(
      'pt --no-watch / pt -o exclusive: the passthrough mirror with the other cache policies: --no-watch (1 s of caching, SRC not watched) ' +
        'and -o exclusive (a day of caching, SRC assumed unchanged behind the mount); passthrough and no passthrough run with the default (SRC on a local filesystem: ' +
        'watched, an hour of caching, the kernel told of every change).',
    );
  }
  const countsOf = (t: TargetState) =>
    defs
      .filter((d) => d.counted && t.windows[d.id])
      .map((d) => `${d.id} ${rwCell(t, d)}`)
      .join(', ');
  const npCounts = countsOf(np);
  const userCounts = user ? countsOf(user) : '';
  lines.push(
    "pt READ/WRITE reqs: READ and WRITE requests the passthrough mirror's server saw in that row, all repetitions (from --stats-file); " +
      'with passthrough both should be 0.' + (npCounts ? ` Without passthrough, for comparison: ${npCounts}.` : '') +
      (userCounts ? ` The unprivileged mirror: ${userCounts}.` : '') +
      (ref ? (refCounts ? ' ref READ/WRITE reqs: the same from the reference\'s stats file.' : " ref READ/WRITE reqs: '-', the reference's stats file reported no requests at all (a stub).") : ''),
  );
  if (!pt.flagRejected && pt.mirrorArgs) {
    const leaked = defs.filter((d) => d.counted && (sumCounts(pt.windows[d.id] ?? [])?.['READ'] ?? 0) + (sumCounts(pt.windows[d.id] ?? [])?.['WRITE'] ?? 0) > 0);
    if (leaked.length) lines.push(`WARNING: the passthrough mirror served data in userspace during: ${leaked.map((d) => d.id).join(', ')}.`);
  }

  // Per-repetition ratios of the rows with a floor.
  lines.push('');
  lines.push(`per-repetition ratios (${mirrorsOf.map((t) => t.key).join(' | ')}), in repetition order:`);
  for (const def of defs.filter((d) => d.floor !== undefined)) {
    const f = (t: TargetState) => repRatios(def, src, t).map((r) => (r === null ? '-' : r.toFixed(2))).join(' ');
    const srcVals = (src.rows[def.id]?.values ?? []).map((v) => (v === null ? '-' : fmtValue(v, def))).join(', ');
    lines.push(`  ${pad(def.id, 14, false)} ${mirrorsOf.map(f).join(' | ')}   (source: ${srcVals})`);
  }

  lines.push(...(x.sections ?? []));

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
  for (const t of [pt, np, ...(user ? [user] : [])]) {
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
    if (t.skipped) lines.push(`${t.key}: SKIPPED: ${t.skipped}`);
    for (const n of t.notes ?? []) lines.push(`${t.key}: note: ${n}`);
    if (t.stop?.forced) lines.push(`${t.key}: the server had to be aborted/detached at the end`);
  }
  const perTarget = targetList(targets).map((t) => `${t.key} ${t.seconds.toFixed(0)} s`).join(', ');
  lines.push(`total ${Math.floor(x.totalSeconds / 60)}m${String(Math.round(x.totalSeconds % 60)).padStart(2, '0')}s (time inside the timed steps: ${perTarget})`);
  return lines.join('\n') + '\n';
}
