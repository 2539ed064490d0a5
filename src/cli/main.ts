/**
 * The `fusekit` command: `mirror`, `umount`, `--help`, `--version`.
 * Option parsing, signals and the stats file live here; filesystem logic does not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mount, unmountAt, canMountDirectly, MountError } from '../session/mount.js';
import type { FuseMount } from '../session/mount.js';
import { isMounted } from '../transport/mount.js';
import { MirrorFilesystem } from '../mirror/mirror.js';
import { parseMirrorArgs, UsageError, USAGE } from './options.js';
import { getNofileLimit, setNofileLimit } from '../sys/index.js';
import type { MirrorArgs } from './options.js';
import { stderrLogger } from '../fs/logger.js';
import { StatsFileWriter } from './stats-file.js';

/** Signals that unmount and end the mirror (SIGHUP: its terminal closed, as libfuse's servers take it). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function fail(message: string): number {
  process.stderr.write(`fusekit: ${message}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      case '-V':
      case '--version':
        process.stdout.write(`fusekit ${version()}\n`);
        return 0;
      case 'mirror':
        return await runMirror(parseMirrorArgs(rest));
      case 'umount':
      case 'unmount':
        return await runUmount(rest);
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fusekit: ${err.message} (see fusekit --help)\n`);
      return 2;
    }
    throw err;
  }
}

async function runUmount(args: string[]): Promise<number> {
  const lazy = args.includes('-l') || args.includes('--lazy');
  const targets = args.filter((a) => a !== '-l' && a !== '--lazy');
  if (targets.length !== 1 || targets[0].startsWith('-')) throw new UsageError('umount takes one mountpoint (and optionally -l)');
  const target = path.resolve(targets[0]);
  if (!isMounted(target)) return fail(`${target} is not mounted`);
  try {
    // umount2(2) as root, fusermount3 -u as an ordinary user.
    await unmountAt(target, { lazy });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EBUSY') return fail(`${target} is busy; close the files open on it, or use fusekit umount -l ${target}`);
    return fail((err as Error).message);
  }
  return 0;
}

/**
 * The mirror holds one descriptor per inode the kernel knows, and the kernel may
 * keep hundreds of thousands cached: raise the limit as far as the system allows
 * (fs.nr_open) so a large tree never fails with EMFILE.
 */
function raiseDescriptorLimit(): void {
  let want = 1 << 20;
  try {
    want = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || want;
  } catch {
    // keep the default
  }
  try {
    const { soft, hard } = getNofileLimit();
    if (soft >= want) return;
    try {
      setNofileLimit(want, Math.max(want, hard));
    } catch {
      // Without CAP_SYS_RESOURCE the hard limit is the ceiling.
      if (soft < hard) setNofileLimit(hard, hard);
    }
  } catch (err) {
    process.stderr.write(`fusekit: cannot raise the descriptor limit: ${(err as Error).message}\n`);
  }
}

async function checkSource(src: string): Promise<string | undefined> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(src);
  } catch (err) {
    return (err as { code?: string }).code === 'ENOENT' ? `source ${src} does not exist` : `source ${src} cannot be used: ${(err as Error).message}`;
  }
  return st.isDirectory() ? undefined : `source ${src} is not a directory`;
}

/** A MountError in the command's own terms (its -o names rather than the library's option names). */
function cliSentence(err: MountError, mnt: string): string {
  switch (err.option) {
    case 'nonEmpty':
      return err.code === 'EBUSY'
        ? `mountpoint ${mnt} is already a FUSE mount of another process; unmount it first (fusekit umount ${mnt})${process.getuid?.() === 0 ? ', or use -o nonempty to mount over it' : ''}`
        : `mountpoint ${mnt} is not empty (use -o nonempty to mount over it)`;
    case 'autoUnmount':
      return err.code === 'ENOENT'
        ? '-o auto_unmount needs fusermount3, which is not installed (Debian and Ubuntu: apt install fuse3; Fedora: dnf install fuse3)'
        : '-o auto_unmount works through fusermount3, so it cannot be combined with --mount-method syscall';
    case 'mountMethod':
      if (err.code === 'EPERM') return '--mount-method syscall needs CAP_SYS_ADMIN (root); an ordinary user mounts through fusermount3 (--mount-method auto or fusermount)';
      if (err.code !== 'ENOENT') return err.message;
      return '--mount-method fusermount needs fusermount3, which is not installed (Debian and Ubuntu: apt install fuse3; Fedora: dnf install fuse3)';
    case 'passthrough':
      if (err.code !== 'EPERM') return err.message;
      return "--passthrough always needs CAP_SYS_ADMIN in the initial user namespace (to register backing files), which this process lacks; with --passthrough auto file data goes through the server instead";
    default: return err.message;
  }
}

/** Why the stats file could not be written (checked before mounting: the writer only finds out a second after), or undefined. */
function statsFileProblem(file: string): string | undefined {
  const dir = path.dirname(file);
  try {
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) return `--stats-file ${file} is a directory`;
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') return `--stats-file ${file}: directory ${dir} does not exist`;
    if (code === 'EACCES' || code === 'EROFS') return `--stats-file ${file}: directory ${dir} is not writable by this user`;
    return `--stats-file ${file} cannot be written: ${(err as Error).message}`;
  }
  return undefined;
}

async function runMirror(a: MirrorArgs): Promise<number> {
  const src = path.resolve(a.source);
  const mnt = path.resolve(a.mountpoint);
  const bad = await checkSource(src);
  if (bad) return fail(bad);
  if (src === mnt) return fail('source and mountpoint must differ');
  const badStats = a.statsFile === undefined ? undefined : statsFileProblem(path.resolve(a.statsFile));
  if (badStats) return fail(badStats);

  raiseDescriptorLimit();
  let filesystem: MirrorFilesystem;
  try {
    filesystem = new MirrorFilesystem(src, a.mirror);
  } catch (err) {
    return fail(`cannot open source ${src}: ${(err as Error).message}`);
  }
  // A handler's stray promise must never take the server down; the session logs handler errors itself.
  process.on('unhandledRejection', (err) => process.stderr.write(`fusekit: unhandled rejection: ${(err as Error)?.stack ?? err}\n`));

  let m: FuseMount | undefined;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    // During mount(): acted on as soon as it returns.
    if (!m) return;
    if (signals > 1) {
      process.stderr.write(`fusekit: ${sig} again, aborting the connection\n`);
      void m.abort();
      return;
    }
    stop(m);
  };
  const stop = (mounted: FuseMount) => {
    mounted.unmount().catch((err: unknown) => {
      if ((err as { code?: string }).code === 'EBUSY') {
        // Detach now; the server keeps answering until the last user leaves.
        process.stderr.write(`fusekit: ${mnt} is busy, detaching it; the server exits when the last file is closed (signal again to abort)\n`);
        return mounted.unmount({ lazy: true });
      }
      process.stderr.write(`fusekit: unmount failed: ${(err as Error).message}\n`);
    }).catch((err: unknown) => process.stderr.write(`fusekit: unmount failed: ${(err as Error).message}\n`));
  };
  // Listening before mounting: a signal that arrives while mount() runs must
  // not kill the process with the mount in place.
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);

  try {
    m = await mount(mnt, filesystem, {
      ...a.mount,
      // An ordinary user's mirror goes away with its server by default: nobody
      // else may unmount it, and a dead mount in a home directory is a trap.
      autoUnmount: a.mount.autoUnmount ?? (a.mount.mountMethod !== 'syscall' && !canMountDirectly()),
      source: src,
      subtype: 'fusekit',
      passthrough: a.passthrough,
      logger: a.debug ? { ...stderrLogger, debug: (line: string) => process.stderr.write(`${line}\n`) } : stderrLogger,
    });
  } catch (err) {
    filesystem.destroy();
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    if (err instanceof MountError) return fail(cliSentence(err, mnt));
    return fail(`mount failed: ${(err as Error).message}`);
  }
  const mounted = m;
  if (signals > 0) stop(mounted);
  const statsFile = a.statsFile
    ? new StatsFileWriter(a.statsFile, () => ({
        ...mounted.session.stats.toJSON(),
        nodes: filesystem.inodes.size - 1,
        openHandles: filesystem.openHandles,
        passthrough: mounted.session.passthroughStats(),
        watch: filesystem.watchStats,
        offload: filesystem.offloadStats,
        listings: filesystem.listingStats,
        descriptors: filesystem.descriptorStats,
      }), (message) => process.stderr.write(`fusekit: ${message}\n`))
    : undefined;

  // Announced only now: whoever waits for this line may signal at once.
  const pt = mounted.session.passthrough;
  process.stderr.write(`fusekit: mirroring ${src} at ${mnt} (FUSE 7.${mounted.info.minor}, passthrough ${pt?.active ? pt.policy : 'off'})\n`);

  const end = await mounted.ended;
  await statsFile?.stop();
  for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  if (end.reason === 'error') return fail(`connection failed: ${end.error.message}`);
  if (end.reason === 'aborted') return fail('the connection was aborted');
  return 0;
}
