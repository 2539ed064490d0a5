/**
 * A program, not a test: mounts the example in-memory filesystem in a
 * process of its own (as whichever user runs it), so tests can watch from
 * outside what a hang, a signal or a kill does to it.
 *
 *   node child.js nested MNT
 *       mount MNT; mount MNT again; mkdir MNT/sub and mount there; try to
 *       unmount MNT while MNT/sub is mounted; unmount all; print one JSON
 *       line per step.
 *   node child.js serve MNT OPTIONS_JSON [own-listener]
 *       mount MNT with OPTIONS_JSON (mount()'s options); print "ready";
 *       print "ended REASON" when the session ends. With own-listener it
 *       also listens for SIGTERM itself and exits 5 once the mount has ended.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mount } from '../../src/index.js';
import type { FuseMount, MountOptions } from '../../src/index.js';
import { MemoryFilesystem } from '../../examples/memfs.js';

function say(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function outcome(err: unknown): { code?: string; message: string } {
  return { code: (err as { code?: string }).code, message: (err as Error).message };
}

async function nested(mnt: string): Promise<void> {
  const first = await mount(mnt, new MemoryFilesystem());
  say({ step: 'first', mountpoint: first.mountpoint, method: first.mountMethod });
  try {
    const again = await mount(mnt, new MemoryFilesystem());
    say({ step: 'again', mounted: true });
    await again.unmount();
  } catch (err) {
    say({ step: 'again', mounted: false, ...outcome(err) });
  }
  await fs.promises.mkdir(path.join(mnt, 'sub'));
  let inner: FuseMount | undefined;
  try {
    inner = await mount(path.join(mnt, 'sub'), new MemoryFilesystem());
    await fs.promises.writeFile(path.join(mnt, 'sub', 'f'), 'inner');
    say({ step: 'inner', mounted: true, read: await fs.promises.readFile(path.join(mnt, 'sub', 'f'), 'utf8') });
  } catch (err) {
    say({ step: 'inner', mounted: false, ...outcome(err) });
  }
  if (inner) {
    try {
      await first.unmount();
      say({ step: 'outer-while-inner', unmounted: true });
    } catch (err) {
      say({ step: 'outer-while-inner', unmounted: false, ...outcome(err) });
    }
    say({ step: 'inner-unmount', end: await inner.unmount() });
  }
  say({ step: 'first-unmount', end: await first.unmount() });
}

async function serve(mnt: string, options: MountOptions, ownListener: boolean): Promise<void> {
  if (ownListener) process.on('SIGTERM', () => say({ step: 'own-listener' }));
  const m = await mount(mnt, new MemoryFilesystem(), options);
  say({ step: 'ready', mountpoint: m.mountpoint, method: m.mountMethod, autoUnmount: m.autoUnmount });
  const end = await m.ended;
  say({ step: 'ended', reason: end.reason });
  if (ownListener) setTimeout(() => process.exit(5), 50);
}

const [what, mnt, extra, flag] = process.argv.slice(2);
if (what === 'nested') {
  await nested(mnt!);
} else if (what === 'serve') {
  // Nothing else keeps the loop alive while the mount is idle.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await serve(mnt!, JSON.parse(extra ?? '{}') as MountOptions, flag === 'own-listener');
  clearInterval(keepAlive);
} else {
  process.stderr.write(`usage: child.js nested MNT | serve MNT OPTIONS_JSON [own-listener]\n`);
  process.exitCode = 2;
}
