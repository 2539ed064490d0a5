/** Argument parsing for `fusekit mirror`: every -o option is listed here with its default. */
import type { MountOptions, MountMethod } from '../session/mount.js';
import type { MirrorOptions } from '../mirror/mirror.js';
import type { PassthroughConfig, PassthroughPolicy } from '../passthrough/manager.js';

export class UsageError extends Error {}

export const USAGE = `usage:
  fusekit mirror SRC MNT [-o opt,...] [--mount-method M] [--stats-file FILE] [--debug]
      Mirror directory SRC at MNT, in the foreground, until SIGINT/SIGTERM/SIGHUP
      or until MNT is unmounted.
  fusekit umount [-l] MNT
      Unmount MNT (-l: detach now, finish when the last user leaves); as an
      ordinary user, through fusermount3 -u.
  fusekit --help | --version

mirror options (-o, comma separated):
  nonempty             allow mounting over a non-empty MNT or another FUSE mount
  ro                   read-only mount
  suid, dev            honour set-user-ID bits and device nodes (default: nosuid,nodev;
                       root only)
  auto_unmount         detach MNT if the server dies, even by SIGKILL (through
                       fusermount3; default on for an ordinary user, off for root)
  noauto_unmount       do not
  allow_other          let users other than the mount's owner in (an ordinary
                       user needs user_allow_other in /etc/fuse.conf)
  default_permissions  let the kernel check permissions from mode, owner, group,
                       supplementary groups and POSIX ACLs, as on a local
                       filesystem; always on with allow_other
  entry_timeout=S      seconds names stay cached (default 3600 while SRC is
                       watched, see --watch, else 1)
  attr_timeout=S       seconds attributes, and directory listings, stay cached
                       before the kernel checks them again (default 3600 while
                       SRC is watched, else 1)
  negative_timeout=S   seconds "no such file" stays cached (default 3600 while
                       SRC is watched, else 0)
  timeout=S            entry_timeout and attr_timeout at once
  statx                answer statx(2) with the source's, birth time included; costs
                       a second round trip on the first stat of each file, as
                       Node's fs.stat and stat(1) ask for the birth time (default
                       off: statx is answered from the kernel's cached attributes,
                       with no birth time)
  exclusive            SRC changes only through this mount: cache names,
                       attributes, listings and "no such file" for a day
                       (86400 s) unless the timeouts above say otherwise.
                       Changes made in SRC directly may then stay invisible
                       at MNT until the kernel drops them (drop_caches, memory
                       pressure) or the mount is restarted
  offload=P            where lookups, attribute reads and listings call SRC: auto
                       (default: on the serving thread while SRC answers in
                       microseconds; once its calls take longer than 0.2 ms, on a
                       pool of 16 threads whenever other clients' requests are
                       being served, so one client's wait on a slow SRC does not
                       hold up the others), always (the pool), never (the
                       serving thread)
  readdirplus=R        which directory listings carry attributes: adaptive
                       (default: while callers stat the names they list, as
                       find -ls, ls -l and du do; the others get names alone,
                       so a walk that only needs names, as find does, opens
                       nothing) or kernel (the first reply of every listing,
                       as the kernel decides when asked)
  max_stack_depth=N    1 (default): backing files on ordinary filesystems; 2: also on
                       overlayfs or another passthrough FUSE mount (the mirror then
                       cannot itself be stacked under one)
  --passthrough P      kernel passthrough policy: auto (default: wherever the kernel
                       allows), always (as auto, but fail at mount if the kernel or
                       process cannot do passthrough), readonly (read-only opens only;
                       writes reach the server), never
  --writable-conflict W  with --passthrough readonly, a writable open of a file that
                       is already in passthrough: share (default; its writes bypass
                       the server) or refuse (the open fails with EBUSY)
  --mount-method M     auto (default: mount(2) as root, fusermount3 otherwise),
                       syscall (mount(2) only) or fusermount (fusermount3 only)
  --watch              watch SRC for changes made in it directly (inotify
                       on the directories the kernel knows) and tell the kernel at
                       once what changed; names, attributes and "no such file" are
                       then cached for an hour (3600 s) unless the timeouts above
                       say otherwise, and changes show at MNT within milliseconds.
                       Where SRC cannot be watched (kernel before 6.16, inotify
                       limits) one line says so and the 1 s timeouts apply.
                       The default, without this flag, is to watch only where
                       that is safe and silent: SRC on a local filesystem (ext4,
                       xfs, btrfs, tmpfs...; not NFS, SMB, FUSE or overlayfs,
                       whose changes made elsewhere raise no event) and a kernel
                       of 6.16 or later; else the 1 s timeouts. -o exclusive
                       does not watch.
  --no-watch           do not watch: names and attributes cached for 1 s (the
                       timeouts above)
  --stats-file FILE    write request/error counters as JSON every second and at exit
  --debug              log every request and reply on stderr
`;

export interface MirrorArgs {
  source: string;
  mountpoint: string;
  statsFile?: string;
  debug: boolean;
  /** -o exclusive: SRC changes only through this mount. */
  exclusive?: boolean;
  mount: Pick<MountOptions, 'nonEmpty' | 'readOnly' | 'allowOther' | 'defaultPermissions' | 'suid' | 'dev' | 'autoUnmount' | 'mountMethod'>;
  mirror: MirrorOptions;
  passthrough: PassthroughConfig;
}

/** -o exclusive: how long the kernel may keep what it caches (a day, as long-lived C mirrors use). */
const EXCLUSIVE_TIMEOUT = 86400;

const POLICIES: PassthroughPolicy[] = ['auto', 'always', 'readonly', 'never'];
const METHODS: MountMethod[] = ['auto', 'syscall', 'fusermount'];

function seconds(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`-o ${name} needs a number of seconds >= 0`);
  return n;
}

function applyOption(a: MirrorArgs, opt: string): void {
  const eq = opt.indexOf('=');
  const key = eq < 0 ? opt : opt.slice(0, eq);
  const value = eq < 0 ? undefined : opt.slice(eq + 1);
  const flag = () => {
    if (value !== undefined) throw new UsageError(`-o ${key} takes no value`);
  };
  switch (key) {
    case 'nonempty': flag(); a.mount.nonEmpty = true; return;
    case 'ro': flag(); a.mount.readOnly = true; return;
    case 'rw': flag(); a.mount.readOnly = false; return;
    case 'suid': flag(); a.mount.suid = true; return;
    case 'nosuid': flag(); a.mount.suid = false; return;
    case 'dev': flag(); a.mount.dev = true; return;
    case 'nodev': flag(); a.mount.dev = false; return;
    case 'allow_other': flag(); a.mount.allowOther = true; return;
    case 'auto_unmount': flag(); a.mount.autoUnmount = true; return;
    case 'noauto_unmount': flag(); a.mount.autoUnmount = false; return;
    case 'default_permissions': flag(); a.mount.defaultPermissions = true; return;
    case 'entry_timeout': a.mirror.entryTimeout = seconds(key, value); return;
    case 'attr_timeout': a.mirror.attrTimeout = seconds(key, value); return;
    case 'negative_timeout': a.mirror.negativeTimeout = seconds(key, value); return;
    case 'timeout': a.mirror.entryTimeout = a.mirror.attrTimeout = seconds(key, value); return;
    case 'exclusive': flag(); a.exclusive = true; return;
    case 'statx': flag(); a.mirror.statx = true; return;
    case 'offload':
      if (value !== 'auto' && value !== 'always' && value !== 'never') throw new UsageError('-o offload must be auto, always or never');
      a.mirror.offload = value;
      return;
    case 'readdirplus':
      if (value !== 'adaptive' && value !== 'kernel') throw new UsageError('-o readdirplus must be adaptive or kernel');
      a.mirror.readdirplus = value;
      return;
    case 'max_stack_depth':
      if (value !== '1' && value !== '2') throw new UsageError('-o max_stack_depth must be 1 or 2');
      a.passthrough.maxStackDepth = Number(value) as 1 | 2;
      return;
    default: throw new UsageError(`unknown option -o ${opt}`);
  }
}

export function parseMirrorArgs(args: string[]): MirrorArgs {
  const a: MirrorArgs = { source: '', mountpoint: '', debug: false, mount: {}, mirror: {}, passthrough: {} };
  // biome-ignore lint/suspicious/noShadowRestrictedNames: a local helper; nothing here calls Object's valueOf.
  const valueOf = (i: number, flag: string): string => {
    const v = args[i];
    if (v === undefined || v.startsWith('-')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-o') {
      const v = args[++i];
      if (v === undefined) throw new UsageError('-o needs options');
      for (const o of v.split(',')) if (o) applyOption(a, o);
    } else if (arg.startsWith('-o') && arg.length > 2) {
      for (const o of arg.slice(2).split(',')) if (o) applyOption(a, o);
    } else if (arg === '--stats-file') {
      const v = args[++i];
      if (!v) throw new UsageError('--stats-file needs a file name');
      a.statsFile = v;
    } else if (arg.startsWith('--stats-file=')) {
      a.statsFile = arg.slice('--stats-file='.length);
    } else if (arg === '--passthrough' || arg.startsWith('--passthrough=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : valueOf(++i, arg);
      if (!POLICIES.includes(v as PassthroughPolicy)) throw new UsageError(`--passthrough must be one of ${POLICIES.join(', ')}`);
      a.passthrough.policy = v as PassthroughPolicy;
    } else if (arg === '--mount-method' || arg.startsWith('--mount-method=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : valueOf(++i, arg);
      if (!METHODS.includes(v as MountMethod)) throw new UsageError(`--mount-method must be one of ${METHODS.join(', ')}`);
      a.mount.mountMethod = v as MountMethod;
    } else if (arg === '--writable-conflict' || arg.startsWith('--writable-conflict=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : valueOf(++i, arg);
      if (v !== 'share' && v !== 'refuse') throw new UsageError('--writable-conflict must be share or refuse');
      a.passthrough.writableConflict = v;
    } else if (arg === '--watch') {
      a.mirror.watch = true;
    } else if (arg === '--no-watch') {
      a.mirror.watch = false;
    } else if (arg === '--debug' || arg === '-d') {
      a.debug = true;
    } else if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length < 2) throw new UsageError('mirror needs SRC and MNT');
  if (positional.length > 2) throw new UsageError(`mirror takes SRC and MNT only; unexpected: ${positional.slice(2).join(' ')}`);
  // The server runs as root: without kernel permission checks any user let in by
  // allow_other could read and write what the source denies them. Without
  // allow_other only root gets in, and the checks would only cost round trips.
  if (a.mount.allowOther) a.mount.defaultPermissions = true;
  a.mirror.enforcePermissions = a.mount.defaultPermissions ?? false;
  // Watching where the source's filesystem reports every change costs creates
  // and unlinks about 2% (the server reads its own changes' events) and makes
  // warm walks as fast as -o exclusive; an exclusive mount has nothing to watch.
  a.mirror.watch ??= a.exclusive ? false : 'auto';
  if (a.exclusive) {
    // Nothing else changes SRC: whatever the kernel caches stays true until it changes it itself.
    a.mirror.entryTimeout ??= EXCLUSIVE_TIMEOUT;
    a.mirror.attrTimeout ??= EXCLUSIVE_TIMEOUT;
    a.mirror.negativeTimeout ??= EXCLUSIVE_TIMEOUT;
  }
  [a.source, a.mountpoint] = positional;
  return a;
}
