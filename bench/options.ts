/**
 * The bench's command line: its options, their defaults (full and --quick),
 * and the usage text.
 */
import { flags } from '../test/helpers/args.js';
import * as path from 'node:path';
import { CLI } from '../test/helpers/repo.js';
import { MiB } from './format.js';
import { MEM_FILES_PER_DIR } from './rows.js';

/** What one run does, after defaults and --quick are applied. */
export interface Options {
  size: number;
  files: number;
  reps: number;
  runtime: number;
  warmRuntime: number;
  /** Cap on the bytes of regular files taken from /usr/include (undefined: all of it). */
  treeCap?: number;
  memEntries: number;
  memory: boolean;
  profile: boolean;
  /** The cache-policy targets: the passthrough mirror with --no-watch and with -o exclusive. */
  cacheTargets: boolean;
  quick: boolean;
  out?: string;
  dir: string;
  cli: string;
  /** Another mirror program, run like the fusekit CLI, as a fourth (passthrough) target. */
  reference?: string;
  /** Add the unprivileged target: the mirror as the user nobody, through fusermount3 (touches /etc/fuse.conf for a moment). */
  user: boolean;
  keep: boolean;
  /** The parallel section: N clients at once on the source, the passthrough mirror and the reference. */
  parallel: boolean;
  /** The slow-source section: mirrors mounted on a source whose metadata requests wait `slowMs`. */
  slowSource: boolean;
  /** Clients running at once in the parallel rows of both sections. */
  clients: number;
  /** Entries of the tree each client of the parallel section untars (the first ones of /usr/include). */
  parEntries: number;
  /** Milliseconds each metadata request of the slow source waits before it is answered. */
  slowMs: number;
  /** Slow-source section: files stat'ed by the single client. */
  slowFiles: number;
  /** Slow-source section: each client's subtree, as directories of `slowFilesPerDir` empty files. */
  slowDirs: number;
  slowFilesPerDir: number;
}

/** The slow-source section's sizes: files stat'ed by one client, and each client's subtree (directories x files). */
export const SLOW_SIZES = {
  full: { files: 2000, dirs: 50, filesPerDir: 60 },
  quick: { files: 500, dirs: 10, filesPerDir: 50 },
} as const;

/** Printed by --help, and after a usage error. */
export const USAGE = `usage: npm run bench -- [options]
  --size N[K|M|G]    sequential file size (default 512M; --quick: 32M)
  --files N          files for create/stat/unlink (default 10000; --quick: 1000)
  --reps N           repetitions; each runs every workload on all the targets
                     back to back, order rotated (default 3; --quick: 2)
  --runtime S        seconds of cold random reads per repetition (default 10; --quick: 2)
  --warm-runtime S   seconds of warm random reads per repetition (default 5; --quick: 1)
  --tree-mb N        cap the tree at the first N MiB of /usr/include (default: no cap,
                     the whole of it; --quick: 8). Meant for --quick only.
  --mem-entries N    files in the memory-phase tree, ${MEM_FILES_PER_DIR} per directory
                     (default 200000; --quick: 10000)
  --no-memory        skip the memory phase
  --no-profile       skip the per-opcode request profile of the passthrough mirror
  --no-cache-targets skip the two cache-policy targets (the passthrough mirror with
                     --no-watch: 1 s of caching, and with -o exclusive: a day), run
                     by default beside the others (which have the mirror's default:
                     SRC watched on a local filesystem, an hour of caching)
  --quick            small sizes for a smoke run
  --out FILE         also write the raw results as JSON
  --dir DIR          scratch directory (default /tmp/fusekit-bench; must be on the
                     filesystem you want as the baseline; removed at the end)
  --cli PATH         the fusekit entry point to test (default: this checkout's bin/fusekit)
  --reference CLI    a fourth target: another mirror program, started exactly like the
                     fusekit CLI (node CLI mirror SRC MNT --passthrough always
                     --stats-file F) over DIR/src-ref at DIR/mnt-ref, interleaved with the
                     others; shown as the "reference" column with its own ratio
  --user             one more target: the mirror as an ordinary user (nobody), mounted
                     through fusermount3 with -o allow_other over DIR/src-user (owned by
                     nobody) at DIR/mnt-user, shown as the "unprivileged" column. Unless
                     /etc/fuse.conf already has user_allow_other, the bench adds it for the
                     moment of that mount and restores the file once the mount is up.
                     Skipped, with the reason, when the machine cannot do it
  --clients N        clients at once in the parallel rows of both sections (default 4)
  --par-entries N    entries of the tree each parallel client untars, walks and removes: the
                     first N of /usr/include (default 2900: four clients stay under the
                     reference servers' one descriptor per inode; --quick: 500)
  --no-parallel      skip the parallel section: N clients at once, each on its own
                     subtree (untar, find -ls cold and warm, rm -rf) on the source, the
                     passthrough mirror and the reference
  --slow-ms D        slow-source section: milliseconds each metadata request of the slow
                     source waits (a timer) before it is answered (default 1)
  --no-slow-source   skip the slow-source section: the passthrough mirror (and the
                     reference) mounted on a fusekit mirror whose metadata requests wait
                     D ms, against that slow source itself: cold stat of ${SLOW_SIZES.full.files} files and
                     cold find -ls of ${SLOW_SIZES.full.dirs} x ${SLOW_SIZES.full.filesPerDir} files per client, each by one
                     client and by N (--quick: ${SLOW_SIZES.quick.files} files, ${SLOW_SIZES.quick.dirs} x ${SLOW_SIZES.quick.filesPerDir} per client)
  --keep             keep DIR (source files and tarball) at the end
`;

/** A bad command line: main prints it with the usage and exits 2. */
export class UsageError extends Error {}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`--size: cannot parse '${s}' (e.g. 256M, 1G)`);
  const mult = { '': 1, k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB }[(m[2] ?? '').toLowerCase()] ?? 1;
  const bytes = Math.round((Number(m[1]) * mult) / MiB) * MiB;
  if (bytes < MiB) throw new UsageError('--size must be at least 1M');
  return bytes;
}

function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`${name} needs a positive integer`);
  return n;
}

function milliseconds(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 10_000) throw new UsageError(`${name} needs a number of milliseconds from 0 to 10000`);
  return n;
}

/** Parses the arguments after `npm run bench --`; 'help' for -h/--help. Throws UsageError. */
export function parseArgs(argv: string[]): Options | 'help' {
  const explicit: Partial<Options> = {};
  let quick = false;
  for (const { name: arg, value } of flags(argv)) {
    const next = () => {
      try {
        return value();
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    };
    switch (arg) {
      case '-h':
      case '--help': return 'help';
      case '--quick': quick = true; break;
      case '--keep': explicit.keep = true; break;
      case '--no-memory': explicit.memory = false; break;
      case '--no-profile': explicit.profile = false; break;
      case '--user': explicit.user = true; break;
      case '--no-cache-targets': explicit.cacheTargets = false; break;
      case '--no-parallel': explicit.parallel = false; break;
      case '--no-slow-source': explicit.slowSource = false; break;
      case '--clients':
        explicit.clients = positiveInt(arg, next());
        if (explicit.clients > 64) throw new UsageError('--clients: at most 64');
        break;
      case '--par-entries': explicit.parEntries = positiveInt(arg, next()); break;
      case '--slow-ms': explicit.slowMs = milliseconds(arg, next()); break;
      case '--size': explicit.size = parseSize(next()); break;
      case '--files': explicit.files = positiveInt(arg, next()); break;
      case '--reps': explicit.reps = positiveInt(arg, next()); break;
      case '--runtime': explicit.runtime = positiveInt(arg, next()); break;
      case '--warm-runtime': explicit.warmRuntime = positiveInt(arg, next()); break;
      case '--tree-mb': explicit.treeCap = positiveInt(arg, next()) * MiB; break;
      case '--mem-entries': explicit.memEntries = positiveInt(arg, next()); break;
      case '--out': explicit.out = path.resolve(next()); break;
      case '--dir': explicit.dir = path.resolve(next()); break;
      case '--cli': explicit.cli = path.resolve(next()); break;
      case '--reference': explicit.reference = path.resolve(next()); break;
      default: throw new UsageError(`unknown option '${arg}'`);
    }
  }
  const slow = quick ? SLOW_SIZES.quick : SLOW_SIZES.full;
  const common = {
    quick, memory: true, profile: true, cacheTargets: true, dir: '/tmp/fusekit-bench', cli: CLI, keep: false, user: false,
    parallel: true, slowSource: true, clients: 4, slowMs: 1, slowFiles: slow.files, slowDirs: slow.dirs, slowFilesPerDir: slow.filesPerDir,
  };
  const base: Options = quick
    ? { ...common, size: 32 * MiB, files: 1000, reps: 2, runtime: 2, warmRuntime: 1, treeCap: 8 * MiB, memEntries: 10_000, parEntries: 500 }
    : { ...common, size: 512 * MiB, files: 10_000, reps: 3, runtime: 10, warmRuntime: 5, treeCap: undefined, memEntries: 200_000, parEntries: 2900 };
  return { ...base, ...explicit };
}
