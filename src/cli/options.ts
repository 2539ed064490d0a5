/** Argument parsing for `fusekit mirror`: every -o option is listed here with its default. */
import type { MountConfig } from '../session/mount.js';
import type { MirrorOptions } from '../mirror/mirror.js';

export class UsageError extends Error {}

export const USAGE = `usage:
  fusekit mirror SRC MNT [-o opt,...] [--stats-file FILE] [--debug]
      Mirror directory SRC at MNT, in the foreground, until SIGINT/SIGTERM
      or until MNT is unmounted.
  fusekit umount [-l] MNT
      Unmount MNT (-l: detach now, finish when the last user leaves).
  fusekit --help | --version

mirror options (-o, comma separated):
  nonempty             allow mounting over a non-empty MNT
  ro                   read-only mount
  allow_other          let users other than the mount's owner in
  default_permissions  let the kernel check permissions from mode/uid/gid
  entry_timeout=S      seconds names stay cached (default 1)
  attr_timeout=S       seconds attributes stay cached (default 1)
  negative_timeout=S   seconds "no such file" stays cached (default 0)
  --stats-file FILE    write request/error counters as JSON every second and at exit
  --debug              log every request and reply on stderr
`;

export interface MirrorArgs {
  source: string;
  mountpoint: string;
  statsFile?: string;
  debug: boolean;
  mount: Pick<MountConfig, 'nonEmpty' | 'readOnly' | 'allowOther' | 'defaultPermissions'>;
  mirror: MirrorOptions;
}

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
    case 'allow_other': flag(); a.mount.allowOther = true; return;
    case 'default_permissions': flag(); a.mount.defaultPermissions = true; return;
    case 'entry_timeout': a.mirror.entryTimeout = seconds(key, value); return;
    case 'attr_timeout': a.mirror.attrTimeout = seconds(key, value); return;
    case 'negative_timeout': a.mirror.negativeTimeout = seconds(key, value); return;
    default: throw new UsageError(`unknown option -o ${opt}`);
  }
}

export function parseMirrorArgs(args: string[]): MirrorArgs {
  const a: MirrorArgs = { source: '', mountpoint: '', debug: false, mount: {}, mirror: {} };
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
  if (positional.length !== 2) throw new UsageError('mirror needs SRC and MNT');
  [a.source, a.mountpoint] = positional;
  return a;
}
