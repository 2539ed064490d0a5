/**
 * The targets a run compares: the source directory, the passthrough and
 * no-passthrough mirrors, with --user an ordinary user's mirror, and with
 * --reference another mirror program; each with where it runs and everything
 * measured on it. Also the order the targets run in per repetition.
 */
import * as path from 'node:path';
import type { Options } from './options.js';
import type { RowResult } from './rows.js';
import type { FuseConfChange, RunAs } from './unprivileged.js';

/**
 * source, passthrough mirror, no-passthrough mirror (both with the default
 * cache policy: SRC watched where it is on a local filesystem, names and
 * attributes cached an hour), the passthrough mirror with the other cache
 * policies (--no-watch: 1 s; -o exclusive: a day), the unprivileged mirror,
 * reference mirror.
 */
export type TargetKey = 'source' | 'pt' | 'nopt' | 'unwatched' | 'excl' | 'user' | 'ref' | SlowTargetKey;
/**
 * The slow-source section's targets: the slow source itself (a mirror with
 * delayed metadata requests, in the `source` place), and the passthrough
 * mirror and the reference mounted on top of it.
 */
export type SlowTargetKey = 'slow' | 'slow-pt' | 'slow-ref';
/**
 * Targets compared in one set of interleaved repetitions: a baseline in the
 * `source` place and the mirrors measured against it.
 */
export type TargetSet = Record<'source' | 'pt', TargetState> & {
  nopt?: TargetState; unwatched?: TargetState; excl?: TargetState; user?: TargetState; ref?: TargetState;
};
/** The targets of the main table: the three fixed ones, the cache-policy ones (unless --no-cache-targets), the user's mirror with --user, the reference mirror with --reference. */
export type Targets = TargetSet & { nopt: TargetState };

/** The targets of the set in their base order (rotated per repetition). */
export function targetList(targets: TargetSet): TargetState[] {
  return [targets.source, targets.pt, ...(targets.nopt ? [targets.nopt] : []), ...extraTargets(targets)];
}

/** The optional targets present in this run, in column order (unwatched, excl, user, ref). */
export function extraTargets(targets: TargetSet): TargetState[] {
  return [targets.unwatched, targets.excl, targets.user, targets.ref].filter((t): t is TargetState => t !== undefined);
}

/** One target: where its workloads run, how its mirror ran, and what was measured on it. */
export interface TargetState {
  key: TargetKey;
  title: string;
  /** Where the workloads run (the source directory itself, or the mountpoint). */
  root: string;
  /** The directory on the baseline filesystem behind `root`. */
  backing: string;
  /** For mirrors: the --passthrough mode asked for (auto: the default, for the user's mirror). */
  mode?: 'always' | 'never' | 'auto';
  /** Mount options passed to the CLI besides --passthrough (the user's mirror: -o allow_other). */
  mountArgs?: string[];
  /** The ordinary user the mirror runs as (through setpriv); root when absent. */
  runAs?: RunAs;
  /** What was done to /etc/fuse.conf for this mirror's mount. */
  fuseConf?: FuseConfChange;
  /** Why the target was left out of the run (not a failure of the run). */
  skipped?: string;
  /** For mirrors: the program started as `node CLI mirror ...`. */
  cli?: string;
  /** For mirrors: CLI arguments after --passthrough MODE (the cache policy of the unwatched and excl targets). */
  extraArgs?: string[];
  /**
   * The --reference mirror: its stats file may carry no request counts, and a
   * non-zero exit on SIGTERM is a note, not a failure of the run.
   */
  reference?: boolean;
  /** Remarks about this target that do not fail the run. */
  notes?: string[];
  /** The extra CLI arguments actually used (after any fallback). */
  mirrorArgs?: string[];
  /** Set when the CLI rejected --passthrough and the mirror ran without it. */
  flagRejected?: boolean;
  startMessage?: string;
  pid?: number;
  rows: Record<string, RowResult>;
  /**
   * Mirrors: request deltas from the stats file per window and repetition. A
   * window runs from the previous snapshot of this mirror to the one taken
   * right after the step (so it includes the step's own sync/drop_caches).
   */
  windows: Record<string, (Record<string, number> | null)[]>;
  peakRssKiB?: number;
  stop?: { code: number | null; signal: NodeJS.Signals | null; forced: boolean };
  error?: string;
  /** Seconds spent in this target's steps (the run is interleaved). */
  seconds: number;
}

/** The targets that are mirrors, in column order (pt, nopt[, user][, ref]). */
export function mirrorTargets(targets: TargetSet): TargetState[] {
  return targetList(targets).filter((t) => t.mode);
}

/** The list started at index `by` (wrapping): the target order of repetition `by`. */
export function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = ((by % xs.length) + xs.length) % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** The targets of a run with these options, nothing measured yet (mirrors not started). */
export function makeTargets(opts: Options): Targets {
  const d = (s: string) => path.join(opts.dir, s);
  const targets: Targets = {
    source: { key: 'source', title: 'source', root: d('src-direct'), backing: d('src-direct'), rows: {}, windows: {}, seconds: 0 },
    pt: { key: 'pt', title: 'passthrough', root: d('mnt-pt'), backing: d('src-pt'), mode: 'always', cli: opts.cli, rows: {}, windows: {}, seconds: 0 },
    nopt: { key: 'nopt', title: 'no passthrough', root: d('mnt-nopt'), backing: d('src-nopt'), mode: 'never', cli: opts.cli, rows: {}, windows: {}, seconds: 0 },
  };
  if (opts.cacheTargets) {
    targets.unwatched = {
      key: 'unwatched', title: 'pt --no-watch', root: d('mnt-unwatched'), backing: d('src-unwatched'), mode: 'always', cli: opts.cli, extraArgs: ['--no-watch'],
      rows: {}, windows: {}, seconds: 0,
    };
    targets.excl = {
      key: 'excl', title: 'pt -o exclusive', root: d('mnt-excl'), backing: d('src-excl'), mode: 'always', cli: opts.cli, extraArgs: ['-o', 'exclusive'],
      rows: {}, windows: {}, seconds: 0,
    };
  }
  if (opts.user) {
    targets.user = {
      key: 'user', title: 'unprivileged', root: d('mnt-user'), backing: d('src-user'), mode: 'auto', mountArgs: ['-o', 'allow_other'], cli: opts.cli, notes: [],
      rows: {}, windows: {}, seconds: 0,
    };
  }
  if (opts.reference !== undefined) {
    targets.ref = {
      key: 'ref', title: 'reference', root: d('mnt-ref'), backing: d('src-ref'), mode: 'always', cli: opts.reference, reference: true, notes: [],
      rows: {}, windows: {}, seconds: 0,
    };
  }
  return targets;
}
