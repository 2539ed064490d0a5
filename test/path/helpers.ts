/**
 * Mounting path filesystems inside the test process (clients run as child
 * processes, see ../helpers/inprocess.ts), and a memory filesystem whose calls
 * are logged and can be held at a gate to keep a request in flight.
 */
import { PathAdapter } from '../../src/path/adapter.js';
import type { PathOptions } from '../../src/path/adapter.js';
import type { PathAttr } from '../../src/path/filesystem.js';
import type { RequestContext } from '../../src/fs/filesystem.js';
import type { Errno } from '../../src/fs/errors.js';
import { PathMemoryFilesystem } from '../../examples/path-memfs.js';
import { withInProcessMount } from '../helpers/inprocess.js';
import type { InProcessMount } from '../helpers/inprocess.js';
import type { MountOptions } from '../../src/session/mount.js';
import { run, type RunResult } from '../helpers/mount.js';
export { sh } from '../helpers/scenario.js';

export function py(code: string, args: string[] = [], timeoutMs = 20_000): Promise<RunResult> {
  return run('python3', ['-c', code, ...args], { timeoutMs });
}

export async function withPathMount<T>(
  fs: ConstructorParameters<typeof PathAdapter>[0],
  options: PathOptions,
  fn: (t: InProcessMount & { adapter: PathAdapter }) => Promise<T>,
  config: MountOptions = {},
): Promise<T> {
  const adapter = new PathAdapter(fs, options);
  return withInProcessMount(adapter, (t) => fn({ ...t, adapter }), config);
}

/** One logged call: the operation and the path(s) it got. */
export interface Call {
  op: string;
  path: string | null;
  to?: string;
  phase: 'start' | 'end';
}

/**
 * The memory filesystem with a log of getattr, read, write, rename, unlink and
 * release calls, and gates: `hold(op, path)` makes the next such call wait
 * until the returned function is called.
 */
export class LoggedMemoryFilesystem extends PathMemoryFilesystem {
  readonly calls: Call[] = [];
  private readonly gates = new Map<string, Promise<void>>();

  hold(op: string, path: string): () => void {
    let open!: () => void;
    this.gates.set(`${op} ${path}`, new Promise<void>((r) => (open = r)));
    return open;
  }

  started(op: string, path: string | null): boolean {
    return this.calls.some((c) => c.op === op && c.path === path && c.phase === 'start');
  }

  private logged<T>(op: string, path: string | null, to: string | undefined, body: () => T): T | Promise<T> {
    this.calls.push({ op, path, to, phase: 'start' });
    const key = `${op} ${path}`;
    const gate = this.gates.get(key);
    if (!gate) {
      const v = body();
      this.calls.push({ op, path, to, phase: 'end' });
      return v;
    }
    this.gates.delete(key);
    return gate.then(() => {
      const v = body();
      this.calls.push({ op, path, to, phase: 'end' });
      return v;
    });
  }

  override getattr(path: string | null, fh: number | undefined): PathAttr | Errno {
    return this.logged('getattr', path, undefined, () => super.getattr(path, fh)) as PathAttr | Errno;
  }

  override read(path: string | null, fh: number, dest: Buffer, offset: number): number | Errno {
    return this.logged('read', path, undefined, () => super.read(path, fh, dest, offset)) as number | Errno;
  }

  override write(path: string | null, fh: number, data: Buffer, offset: number): number | Errno {
    // The kernel's buffer is ours only until we answer: copy before waiting.
    const copy = Buffer.from(data);
    return this.logged('write', path, undefined, () => super.write(path, fh, copy, offset)) as number | Errno;
  }

  override rename(from: string, to: string, flags: number): void | Errno {
    return this.logged('rename', from, to, () => super.rename(from, to, flags)) as void | Errno;
  }

  override unlink(path: string): void | Errno {
    return this.logged('unlink', path, undefined, () => super.unlink(path)) as void | Errno;
  }

  override release(path: string | null, fh: number): void {
    this.logged('release', path, undefined, () => super.release(path, fh));
  }

  override open(path: string): number | Errno {
    return this.logged('open', path, undefined, () => super.open(path)) as number | Errno;
  }

  override create(path: string, mode: number, flags: number, ctx: RequestContext): number {
    return this.logged('create', path, undefined, () => super.create(path, mode, flags, ctx)) as number;
  }
}

/** Polls `cond` every 10 ms for up to `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
