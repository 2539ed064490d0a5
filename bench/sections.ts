/**
 * The report's two sections under the main table: the parallel section (N
 * clients at once on the source, the passthrough mirror and the reference)
 * and the slow-source section (the mirrors on top of a source whose metadata
 * requests wait). Each is a small table of its own with the same reading as
 * the main one: medians over the repetitions, and as the ratio the median of
 * the per-repetition ratios against the section's baseline.
 */
import type { Env } from './environment.js';
import { fmtCounts, fmtNum, fmtRatio, fmtValue, median, pad, present, sumCounts, totalCount } from './format.js';
import { parallelTargets } from './parallel.js';
import { medianRatio, repRatios } from './report.js';
import type { RowDef } from './rows.js';
import type { SlowResult } from './slow.js';
import type { TargetSet, TargetState } from './targets.js';

/** A value cell: the median, `*` when a repetition failed, `failed`/`skipped`/`n/a` when there is none. */
function cell(t: TargetState, def: RowDef): string {
  if (t.skipped) return 'skipped';
  const r = t.rows[def.id];
  const got = present(r?.values ?? []);
  if (got.length > 0) return fmtValue(median(got) ?? 0, def) + (r?.errors.length ? ' *' : '');
  return r?.errors.length || t.error ? 'failed' : 'n/a';
}

/** The table of a section: a value and a ratio column per target (the baseline has no ratio), and the baseline's swing. */
function table(defs: RowDef[], base: TargetState, others: TargetState[]): string[] {
  const header = ['workload', base.title, ...others.flatMap((t) => [t.title, 'ratio']), 'src swing'];
  const rows = [header];
  for (const def of defs) {
    const v = present(base.rows[def.id]?.values ?? []);
    const swing = v.length >= 2 ? fmtRatio(Math.max(...v) / Math.min(...v)) : '';
    rows.push([
      def.label, cell(base, def),
      ...others.flatMap((t) => {
        const r = medianRatio(def, base, t);
        return [cell(t, def), r === undefined ? '' : fmtRatio(r)];
      }),
      swing,
    ]);
  }
  const widths = header.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const fmtRow = (r: string[]) => r.map((s, c) => pad(s, widths[c] ?? 0, c > 0)).join('  ').trimEnd();
  return [fmtRow(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(fmtRow)];
}

/** Each repetition's ratio of every target, per row, with the baseline's values. */
function perRep(defs: RowDef[], base: TargetState, others: TargetState[]): string[] {
  const lines = [`  per-repetition ratios (${others.map((t) => t.key).join(' | ')}), in repetition order:`];
  for (const def of defs) {
    if (!base.rows[def.id]) {
      lines.push(`    ${pad(def.id, 18, false)} not run`);
      continue;
    }
    const f = (t: TargetState) => repRatios(def, base, t).map((r) => (r === null ? '-' : r.toFixed(2))).join(' ');
    const baseVals = (base.rows[def.id]?.values ?? []).map((v) => (v === null ? '-' : fmtValue(v, def))).join(', ');
    lines.push(`    ${pad(def.id, 18, false)} ${others.map(f).join(' | ')}   (${base.key}: ${baseVals})`);
  }
  return lines;
}

/** Errors of the section's rows, and what happened to its servers. */
function problems(list: TargetState[], defs: RowDef[]): string[] {
  const lines: string[] = [];
  for (const t of list) {
    for (const def of defs) for (const e of t.rows[def.id]?.errors ?? []) lines.push(`  ${t.key}: ${def.id}: ${e}`);
    if (t.error) lines.push(`  ${t.key}: ${t.error}`);
    if (t.skipped) lines.push(`  ${t.key}: SKIPPED: ${t.skipped}`);
    for (const n of t.notes ?? []) lines.push(`  ${t.key}: note: ${n}`);
    if (t.stop?.forced) lines.push(`  ${t.key}: the server had to be aborted/detached at the end`);
  }
  return lines;
}

/**
 * The parallel section: its table under the main one. Its targets are the
 * main table's, so their errors and notes are with the main table's notes.
 */
export function renderParallel(env: Env, targets: TargetSet, defs: RowDef[]): string[] {
  const list = parallelTargets(targets);
  const [base, ...others] = list;
  if (!base) return [];
  const n = env.opts.clients;
  return [
    '',
    `parallel section: ${n} clients at once on the same target, each in its own subtree (interleaved with the main rows: the untars in the creating pass, ` +
      `the rest in the deleting pass). Values: wall time from the first client's start to the last one's exit, median over the repetitions; ` +
      `ratio: source time / target time, median of the per-repetition ratios (higher is better). find -ls cold follows one drop_caches for all ${n} clients; ` +
      'warm runs right after it, so with the mirrors\' 1 s timeouts it is warm only where the cold walk took less than that.',
    ...table(defs, base, others),
    ...perRep(defs, base, others),
    ...(list.some((t) => defs.some((d) => t.rows[d.id]?.errors.length)) ? ['  errors: see the notes at the end'] : []),
  ];
}

/** The slow-source section: what the slow source is, its table, and the requests it answered per row and target. */
export function renderSlow(res: SlowResult): string[] {
  const list = [res.targets.source, res.targets.pt, ...(res.targets.ref ? [res.targets.ref] : [])];
  const [base, ...others] = list;
  if (!base) return [];
  const s = res.sizes;
  const lines = [
    '',
    `slow-source section: the source is bench/slow-source.ts, a fusekit mirror (own process, no passthrough) of a plain directory whose metadata requests ` +
      `(LOOKUP, GETATTR, SETATTR, STATX, ACCESS, READLINK, OPEN, OPENDIR, READDIR, READDIRPLUS and every namespace change) each wait ${res.slowMs} ms on a timer, ` +
      'so concurrent requests overlap as on a network filesystem; the mirrors are mounted on top of it. Every row is cold: caches dropped, then dropped again ' +
      'once the mirrors have let go of the slow source\'s inodes. Values: seconds, median over the repetitions; ratio: slow source time / mirror time, ' +
      `median of the per-repetition ratios (higher is better). Per target: ${fmtNum(s.files)} empty files, and ${s.clients} subtrees of ` +
      `${s.dirsPerClient} directories x ${s.filesPerDir} empty files (${fmtNum(s.entriesPerClient)} entries each), and ${fmtNum(s.filesPerClient)} empty files per client; ` +
      `the 1-client find walks all ${s.clients} subtrees, the parallel find gives each client one, the parallel stat each client its own files.`,
  ];
  for (const t of others) {
    if (t.startMessage) lines.push(`  ${t.title} on the slow source: ran with ${t.mirrorArgs?.join(' ') ?? '?'} (${t.startMessage.split('\n')[0] ?? ''})`);
  }
  if (res.error) lines.push(`  FAILED: ${res.error}`);
  lines.push(...table(res.defs, base, others), ...perRep(res.defs, base, others));
  lines.push(`  requests the slow source answered per step (the repetition with the median total; per file stat'ed, or per entry of the finds):`);
  for (const def of res.defs) {
    const per = def.id === 'slow_stat_cold' ? s.files : def.id === 'slow_par_stat_cold' ? s.clients * s.filesPerClient : s.clients * s.entriesPerClient;
    for (const t of list) {
      const windows = (base.windows[`${def.id}@${t.key}`] ?? []).filter((w): w is Record<string, number> => !!w);
      if (!windows.length) continue;
      // The repetition with the median total stands for the row.
      const sorted = [...windows].sort((a, b) => totalCount(a) - totalCount(b));
      const mid = sorted[(sorted.length - 1) >> 1];
      lines.push(`    ${pad(def.id, 18, false)} ${pad(t.key, 8, false)} ${fmtNum(totalCount(mid))}: ${fmtCounts(mid, per)}`);
    }
  }
  const all = sumCounts(Object.values(base.windows).flat());
  lines.push(
    `  most requests in flight at once at the slow source: ${res.slowInFlightMax ?? '?'}; ` +
      `requests over the section: ${res.slowRequests ? fmtNum(totalCount(res.slowRequests)) : all ? fmtNum(totalCount(all)) : '?'}; section took ${res.seconds.toFixed(0)} s`,
  );
  lines.push(...problems(list, res.defs));
  return lines;
}
