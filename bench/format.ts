/**
 * Numbers for the bench: units, medians, request-count arithmetic, and how
 * values, ratios and counts are written in the table and the log.
 */
import type { RowDef } from './rows.js';

/** One mebibyte in bytes. */
export const MiB = 1024 * 1024;

/** The median (mean of the middle two for an even count); undefined for none. */
export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The measured values of a list (null, undefined and non-finite dropped). */
export function present(xs: (number | null | undefined)[]): number[] {
  return xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
}

/** Per-opcode a - b, negative differences dropped. */
export function subCounts(a: Record<string, number> | undefined, b: Record<string, number> | undefined): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(a ?? {})) {
    const x = v - (b?.[k] ?? 0);
    if (x > 0) d[k] = x;
  }
  return d;
}

/** Per-opcode sum of the windows that were measured; undefined if none was. */
export function sumCounts(list: (Record<string, number> | null | undefined)[]): Record<string, number> | undefined {
  const got = list.filter((x): x is Record<string, number> => !!x);
  if (got.length === 0) return undefined;
  const d: Record<string, number> = {};
  for (const c of got) for (const [k, v] of Object.entries(c)) d[k] = (d[k] ?? 0) + v;
  return d;
}

/** All requests of a window, whatever the opcode. */
export function totalCount(c: Record<string, number> | undefined): number {
  return Object.values(c ?? {}).reduce((a, b) => a + b, 0);
}

/** A number with thousands separators and `digits` decimals. */
export function fmtNum(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A row's value with its unit. */
export function fmtValue(v: number, def: RowDef): string {
  switch (def.kind) {
    case 'duration': return `${v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1)} s`;
    case 'memory': return `${fmtNum(v, v < 10 ? 1 : 0)} MiB`;
    default:
      if (def.unit === 'MiB/s') return `${fmtNum(v, v < 100 ? 1 : 0)} MiB/s`;
      return `${fmtNum(v, 0)} ${def.unit}`;
  }
}

/** A ratio as `0.93x` (one decimal from 10x up). */
export function fmtRatio(r: number): string {
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}x`;
}

/** KiB as MiB (one decimal below 10 MiB); `?` when unknown. */
export function fmtMiB(kib: number | undefined): string {
  return kib === undefined ? '?' : `${fmtNum(kib / 1024, kib < 10 * 1024 ? 1 : 0)} MiB`;
}

/** Pads to width `w`, on the left when `right` (right-aligned). */
export function pad(s: string, w: number, right: boolean): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

/** `OP count (count / per)`, most frequent first. */
export function fmtCounts(c: Record<string, number> | undefined, per: number): string {
  if (!c) return '?';
  const entries = Object.entries(c)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return 'none';
  return entries.map(([k, v]) => `${k} ${fmtNum(v)} (${(v / per).toFixed(2)})`).join(', ');
}
