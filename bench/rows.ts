/**
 * The rows of the table: what each measures and in which unit, the floors the
 * passthrough ratio has to meet, and the per-repetition results of a row.
 */
import type { Env } from './environment.js';
import { fmtNum, MiB } from './format.js';

/** What the passthrough ratio (mirror / source, median of the per-repetition ratios) has to meet, by row id. */
export const FLOORS: Record<string, { floor: number; goal: number }> = {
  randread_warm: { floor: 0.92, goal: 0.95 },
  create: { floor: 0.24, goal: 0.3 },
  stat_cold: { floor: 0.13, goal: 0.2 },
  stat_warm: { floor: 1.0, goal: 1.0 },
  unlink: { floor: 0.11, goal: 0.15 },
  untar: { floor: 0.22, goal: 0.3 },
  find_cold: { floor: 0.2, goal: 0.3 },
  find_warm: { floor: 0.13, goal: 0.3 },
  rmrf: { floor: 0.49, goal: 0.6 },
};
/** Peak RSS of a fresh passthrough mirror during `find` over the memory tree. */
export const MEM_PEAK_TARGET_MIB = 150;
/** Files per directory in the memory-phase tree. */
export const MEM_FILES_PER_DIR = 500;

/** rate: higher is better; duration: seconds, lower is better; memory: MiB, no ratio. */
export type Kind = 'rate' | 'duration' | 'memory';

/** One row of the table. */
export interface RowDef {
  id: string;
  label: string;
  unit: string;
  kind: Kind;
  /** Rows whose READ/WRITE request counts are shown for the mirrors. */
  counted?: boolean;
  floor?: number;
  goal?: number;
}

/** One row's results for one target. */
export interface RowResult {
  /** One value per repetition (null: not measured or failed). */
  values: (number | null)[];
  raw: unknown[];
  errors: string[];
  median?: number;
}

let ROWS: Record<string, RowDef> = {};

/** The row with this id, once defineRows() has run. */
export function rowDef(id: string): RowDef | undefined {
  return ROWS[id];
}

/** The rows of this run, in table order (labels carry the run's sizes and tools). */
export function defineRows(env: Env): RowDef[] {
  const { opts, tree } = env;
  const size = `${fmtNum(opts.size / MiB)} MiB`;
  const warmMiB = Math.min(256, opts.size / MiB);
  const randTool = env.fio ? `fio psync` : env.tool.kind === 'c' ? 'C pread loop' : 'Node pread loop';
  const memFiles = Math.ceil(opts.memEntries / MEM_FILES_PER_DIR) * MEM_FILES_PER_DIR;
  const memEntries = memFiles + memFiles / MEM_FILES_PER_DIR + 1;
  const f = (id: string) => FLOORS[id] ?? {};
  const defs: RowDef[] = [
    { id: 'seqwrite', label: `seq write ${size} + fsync (dd 1M)`, unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'seqread_cold', label: 'seq read, cold cache (dd 1M)', unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'seqread_warm', label: 'seq read, warm (median of 3 reads)', unit: 'MiB/s', kind: 'rate', counted: true },
    { id: 'randread', label: `rand read 4K, cold start, ${opts.runtime} s (${randTool})`, unit: 'IOPS', kind: 'rate', counted: true },
    { id: 'randread_warm', label: `rand read 4K, warm, ${fmtNum(warmMiB)} MiB cached, ${opts.warmRuntime} s`, unit: 'IOPS', kind: 'rate', counted: true, ...f('randread_warm') },
    { id: 'create', label: `create ${fmtNum(opts.files)} empty files`, unit: 'files/s', kind: 'rate', ...f('create') },
    { id: 'stat_cold', label: 'stat them, cold cache', unit: 'files/s', kind: 'rate', ...f('stat_cold') },
    { id: 'stat_warm', label: 'stat them, warm', unit: 'files/s', kind: 'rate', ...f('stat_warm') },
    { id: 'unlink', label: 'unlink them', unit: 'files/s', kind: 'rate', ...f('unlink') },
    { id: 'untar', label: `untar ${tree.capped ? 'CAPPED ' : ''}${tree.from} (${fmtNum(tree.entries)} entries, ${fmtNum(tree.tarBytes / MiB)} MiB)`, unit: 's', kind: 'duration', ...f('untar') },
    { id: 'find_cold', label: 'find over it, cold cache', unit: 's', kind: 'duration', ...f('find_cold') },
    { id: 'find_warm', label: 'find over it, warm', unit: 's', kind: 'duration', ...f('find_warm') },
    { id: 'rmrf', label: 'rm -rf of it', unit: 's', kind: 'duration', ...f('rmrf') },
    { id: 'rss', label: 'server peak RSS over the timed run (VmHWM)', unit: 'MiB', kind: 'memory' },
  ];
  if (opts.memory) {
    defs.push(
      { id: 'mem_peak', label: `peak RSS, find over ${fmtNum(memEntries)} entries (fresh mirror)`, unit: 'MiB', kind: 'memory' },
      { id: 'mem_after', label: 'RSS after drop_caches (start -> back)', unit: 'MiB', kind: 'memory' },
    );
  }
  ROWS = Object.fromEntries(defs.map((d) => [d.id, d]));
  return defs;
}

/** Adds the rows of a section to those rowDef() knows (after defineRows()). */
export function registerRows(defs: RowDef[]): void {
  for (const d of defs) ROWS[d.id] = d;
}

/** A row with nothing measured yet. */
export function emptyRow(reps: number): RowResult {
  return { values: new Array<number | null>(reps).fill(null), raw: new Array<unknown>(reps).fill(null), errors: [] };
}
