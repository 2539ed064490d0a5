/**
 * A slow source for the bench: a fusekit mirror of a plain directory whose
 * metadata requests each wait a fixed time before they are answered, as on a
 * network filesystem. Mirrors are then mounted on top of it, so that what
 * the bench measures is how a mirror copes with a source whose every
 * metadata call blocks.
 *
 *   node dist/bench/slow-source.js [mirror] SRC MNT [--slow-ms D] [--passthrough MODE] [--stats-file F]
 *
 * The command line has the shape of `fusekit mirror`, so the bench starts,
 * watches and stops it like any mirror server (it also mounts as
 * `fuse.fusekit`). `--slow-ms` is the delay in milliseconds (default 1; 0
 * leaves it a plain mirror). `--passthrough` defaults to `never`: a FUSE
 * mount with passthrough takes up a level of the kernel's filesystem stack
 * depth, so backing files on it would be refused to a passthrough mirror
 * mounted above. The stats file has the session's counters, `inFlightMax`
 * (the most requests in flight at once) among them, rewritten every second.
 *
 * The delay is a timer, not a busy wait: while one request waits, the server
 * reads and starts the next, so requests from concurrent callers overlap as
 * they do on NFS, and the server's CPU stays idle. The request is served
 * when its timer fires (the source call happens after the wait, never
 * before: the mirror's handlers are synchronous and reuse reply scratch, so
 * a result must be encoded before the next handler runs). Node's timers
 * have millisecond granularity, so D is the wait to the nearest
 * millisecond or so, not a precise figure.
 */
import * as path from 'node:path';
import { MirrorFilesystem } from '../src/mirror/mirror.js';
import type { PassthroughPolicy } from '../src/passthrough/manager.js';
import { mount, type FuseMount } from '../src/session/mount.js';
import { flags } from '../test/helpers/args.js';
import { delayedFilesystem } from '../test/helpers/slow-source.js';
import { StatsFileWriter } from '../src/cli/stats-file.js';

interface Args {
  source: string;
  mountpoint: string;
  delayMs: number;
  passthrough: PassthroughPolicy;
  statsFile?: string;
}

function parse(argv: string[]): Args {
  const positional: string[] = [];
  const a: Omit<Args, 'source' | 'mountpoint'> = { delayMs: 1, passthrough: 'never' };
  for (const f of flags(argv)) {
    switch (f.name) {
      case '--slow-ms': {
        const v = Number(f.value());
        if (!Number.isFinite(v) || v < 0) throw new Error('--slow-ms needs a number of milliseconds, 0 or more');
        a.delayMs = v;
        break;
      }
      case '--passthrough': {
        const v = f.value();
        if (!['auto', 'always', 'readonly', 'never'].includes(v)) throw new Error(`--passthrough: unknown policy '${v}'`);
        a.passthrough = v as PassthroughPolicy;
        break;
      }
      case '--stats-file': a.statsFile = path.resolve(f.value()); break;
      default:
        if (f.name.startsWith('-')) throw new Error(`unknown option '${f.name}'`);
        positional.push(f.name);
    }
  }
  if (positional[0] === 'mirror') positional.shift();
  const [source, mountpoint, extra] = positional;
  if (!source || !mountpoint || extra !== undefined) throw new Error('usage: slow-source.js [mirror] SRC MNT [--slow-ms D] [--passthrough MODE] [--stats-file F]');
  return { ...a, source: path.resolve(source), mountpoint: path.resolve(mountpoint) };
}

async function main(argv: string[]): Promise<number> {
  let a: Args;
  try {
    a = parse(argv);
  } catch (err) {
    process.stderr.write(`slow-source: ${(err as Error).message}\n`);
    return 2;
  }
  // Its own source is a local directory: every call on the serving thread.
  // Listings carry attributes by the kernel's rule, as a network filesystem's
  // READDIRPLUS does, whatever the mirror's default: the fixture stays the
  // same source from one run of the bench to the next.
  const inner = new MirrorFilesystem(a.source, { offload: 'never', readdirplus: 'kernel' });
  let m: FuseMount | undefined;
  let signals = 0;
  const stop = () => {
    if (!m) return; // during mount(): acted on as soon as it returns
    if (signals > 1) {
      // A second signal: give up on a clean unmount.
      void m.abort();
      return;
    }
    const mounted = m;
    // Busy (a mirror above still holds it): detach it; the session ends when the last user leaves.
    mounted.unmount().catch(() => mounted.unmount({ lazy: true })).catch((err: unknown) => process.stderr.write(`slow-source: unmount failed: ${(err as Error).message}\n`));
  };
  const onSignal = () => {
    signals++;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    m = await mount(a.mountpoint, delayedFilesystem(inner, a.delayMs), { source: a.source, subtype: 'fusekit', passthrough: { policy: a.passthrough } });
  } catch (err) {
    inner.destroy();
    process.stderr.write(`slow-source: mount failed: ${(err as Error).message}\n`);
    return 1;
  }
  const mounted = m;
  const statsFile = a.statsFile
    ? new StatsFileWriter(a.statsFile, () => ({ ...mounted.session.stats.toJSON(), slowMs: a.delayMs }), (message) => process.stderr.write(`slow-source: ${message}\n`))
    : undefined;
  process.stderr.write(`slow-source: mirroring ${a.source} at ${a.mountpoint}, metadata requests delayed ${a.delayMs} ms (passthrough ${a.passthrough})\n`);
  if (signals > 0) stop();
  const end = await mounted.ended;
  await statsFile?.stop();
  if (end.reason === 'error') {
    process.stderr.write(`slow-source: connection failed: ${end.error.message}\n`);
    return 1;
  }
  return end.reason === 'aborted' ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`slow-source: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
