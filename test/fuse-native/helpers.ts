/**
 * For the fuse-native entry point's tests: a path-keyed memory filesystem
 * written in fuse-native's callback style that records every call, a scoped
 * in-process mount, and child programs that load `fusekit/fuse-native` by
 * package name (CommonJS or ESM) from a scratch directory whose node_modules
 * links to this checkout.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Fuse } from '../../src/fuse-native/index.js';
import type { FuseCallback, FuseOperations, FuseOptions, FuseStat } from '../../src/fuse-native/index.js';
import { REPO_ROOT, forceUnmount, mountAt, withTimeout, sleep } from '../helpers/mount.js';

/** One recorded call: the operation and its arguments without the callback. */
export interface Recorded {
  op: string;
  args: unknown[];
}

interface MemFile {
  mode: number;
  uid: number;
  gid: number;
  data: Buffer;
  target?: string;
  atime: number;
  mtime: number;
  ctime: number;
  xattrs: Map<string, Buffer>;
}

/**
 * fuse-native operations over a Map of paths. Every operation records its
 * arguments; answers come synchronously or, with `async`, on the next tick (as
 * fuse-native's own examples do).
 */
export function recordingOps(log: Recorded[], opts: { async?: boolean } = {}): FuseOperations & { files: Map<string, MemFile> } {
  const t0 = Date.now();
  const files = new Map<string, MemFile>();
  const make = (mode: number): MemFile => ({ mode, uid: 0, gid: 0, data: Buffer.alloc(0), atime: t0, mtime: t0, ctime: t0, xattrs: new Map() });
  files.set('/', make(0o40755));
  const fds = new Map<number, string>();
  let nextFd = 10;
  const reply = (cb: FuseCallback, ...a: unknown[]) => (opts.async ? process.nextTick(() => (cb as (...x: unknown[]) => void)(...a)) : (cb as (...x: unknown[]) => void)(...a));
  const stat = (f: MemFile): FuseStat => ({ mode: f.mode, uid: f.uid, gid: f.gid, size: f.data.length, atime: new Date(f.atime), mtime: f.mtime, ctime: new Date(f.ctime), nlink: 1 });
  const rec = (op: string, args: unknown[]) => log.push({ op, args });
  const children = (dir: string) => [...files.keys()].filter((p) => p !== '/' && path.posix.dirname(p) === dir);
  const ops: FuseOperations & { files: Map<string, MemFile> } = {
    files,
    init(cb) { rec('init', []); reply(cb, 0); },
    access(p, mode, cb) { rec('access', [p, mode]); reply(cb, files.has(p) ? 0 : Fuse.ENOENT); },
    statfs(p, cb) {
      rec('statfs', [p]);
      reply(cb, 0, { bsize: 4096, frsize: 4096, blocks: 6e9, bfree: 5e9, bavail: 4e9, files: 1000, ffree: 900, favail: 900, fsid: 1, flag: 0, namemax: 200 });
    },
    getattr(p, cb) {
      rec('getattr', [p]);
      const f = files.get(p);
      if (!f) return reply(cb, Fuse.ENOENT);
      reply(cb, null, stat(f));
    },
    fgetattr(p, fd, cb) {
      rec('fgetattr', [p, fd]);
      const f = files.get(fds.get(fd) ?? p);
      if (!f) return reply(cb, Fuse.ENOENT);
      reply(cb, 0, stat(f));
    },
    flush(p, fd, cb) { rec('flush', [p, fd]); reply(cb, 0); },
    fsync(p, datasync, fd, cb) { rec('fsync', [p, datasync, fd]); reply(cb, 0); },
    fsyncdir(p, datasync, fd, cb) { rec('fsyncdir', [p, datasync, fd]); reply(cb, 0); },
    readdir(p, cb) {
      rec('readdir', [p]);
      const names = children(p).map((c) => path.posix.basename(c));
      reply(cb, 0, names, names.map((n) => stat(files.get(path.posix.join(p, n))!)));
    },
    truncate(p, size, cb) {
      rec('truncate', [p, size]);
      const f = files.get(p);
      if (!f) return reply(cb, Fuse.ENOENT);
      f.data = resized(f.data, size);
      reply(cb, 0);
    },
    ftruncate(p, fd, size, cb) {
      rec('ftruncate', [p, fd, size]);
      const f = files.get(p)!;
      f.data = resized(f.data, size);
      reply(cb, 0);
    },
    utimens(p, atime, mtime, cb) {
      rec('utimens', [p, atime, mtime]);
      const f = files.get(p);
      if (!f) return reply(cb, Fuse.ENOENT);
      f.atime = atime;
      f.mtime = mtime;
      reply(cb, 0);
    },
    readlink(p, cb) {
      rec('readlink', [p]);
      const f = files.get(p);
      if (!f?.target) return reply(cb, Fuse.EINVAL);
      reply(cb, null, f.target);
    },
    chown(p, uid, gid, cb) {
      rec('chown', [p, uid, gid]);
      const f = files.get(p)!;
      if (uid !== 0xffffffff) f.uid = uid;
      if (gid !== 0xffffffff) f.gid = gid;
      reply(cb, 0);
    },
    chmod(p, mode, cb) {
      rec('chmod', [p, mode]);
      const f = files.get(p)!;
      f.mode = (f.mode & 0o170000) | (mode & 0o7777);
      reply(cb, 0);
    },
    mknod(p, mode, dev, cb) { rec('mknod', [p, mode, dev]); files.set(p, make(mode)); reply(cb, 0); },
    setxattr(p, name, value, position, flags, cb) {
      rec('setxattr', [p, name, Buffer.from(value), position, flags]);
      files.get(p)!.xattrs.set(name, Buffer.from(value));
      reply(cb, 0);
    },
    getxattr(p, name, position, cb) {
      rec('getxattr', [p, name, position]);
      reply(cb, 0, files.get(p)?.xattrs.get(name) ?? null);
    },
    listxattr(p, cb) { rec('listxattr', [p]); reply(cb, 0, [...(files.get(p)?.xattrs.keys() ?? [])]); },
    removexattr(p, name, cb) {
      rec('removexattr', [p, name]);
      reply(cb, files.get(p)?.xattrs.delete(name) ? 0 : Fuse.ENODATA);
    },
    open(p, flags, cb) {
      rec('open', [p, flags]);
      if (!files.has(p)) return reply(cb, Fuse.ENOENT);
      const fd = nextFd++;
      fds.set(fd, p);
      reply(cb, 0, fd);
    },
    opendir(p, flags, cb) { rec('opendir', [p, flags]); reply(cb, 0, 77); },
    read(p, fd, buf, len, pos, cb) {
      rec('read', [p, fd, Buffer.isBuffer(buf), len, pos]);
      const f = files.get(fds.get(fd) ?? p);
      if (!f) return reply(cb, Fuse.EBADF);
      reply(cb, f.data.copy(buf, 0, pos, Math.min(f.data.length, pos + len)));
    },
    write(p, fd, buf, len, pos, cb) {
      rec('write', [p, fd, buf.toString('utf8', 0, len), len, pos]);
      const f = files.get(fds.get(fd) ?? p)!;
      if (pos + len > f.data.length) {
        const d = Buffer.alloc(pos + len);
        f.data.copy(d);
        f.data = d;
      }
      buf.copy(f.data, pos, 0, len);
      reply(cb, len);
    },
    release(p, fd, cb) { rec('release', [p, fd]); fds.delete(fd); reply(cb, 0); },
    releasedir(p, fd, cb) { rec('releasedir', [p, fd]); reply(cb, 0); },
    create(p, mode, cb) {
      rec('create', [p, mode]);
      files.set(p, make(mode));
      const fd = nextFd++;
      fds.set(fd, p);
      reply(cb, 0, fd);
    },
    unlink(p, cb) { rec('unlink', [p]); reply(cb, files.delete(p) ? 0 : Fuse.ENOENT); },
    rename(src, dest, cb) {
      rec('rename', [src, dest]);
      for (const [k, v] of [...files]) {
        if (k === src || k.startsWith(src + '/')) {
          files.delete(k);
          files.set(dest + k.slice(src.length), v);
        }
      }
      for (const [fd, p] of fds) if (p === src) fds.set(fd, dest);
      reply(cb, 0);
    },
    link(src, dest, cb) { rec('link', [src, dest]); files.set(dest, files.get(src)!); reply(cb, 0); },
    symlink(src, dest, cb) {
      rec('symlink', [src, dest]);
      const f = make(0o120777);
      f.target = src;
      f.data = Buffer.from(src);
      files.set(dest, f);
      reply(cb, 0);
    },
    mkdir(p, mode, cb) { rec('mkdir', [p, mode]); files.set(p, make(0o40000 | mode)); reply(cb, 0); },
    rmdir(p, cb) {
      rec('rmdir', [p]);
      if (children(p).length > 0) return reply(cb, Fuse.ENOTEMPTY);
      reply(cb, files.delete(p) ? 0 : Fuse.ENOENT);
    },
  };
  return ops;
}

/** A fresh scratch directory with an empty `mnt` inside; removed by `cleanup` after unmounting anything left. */
export function scratch(): { root: string; mnt: string; cleanup(): void } {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-fn-')));
  const mnt = path.join(root, 'mnt');
  fs.mkdirSync(mnt);
  return {
    root,
    mnt,
    cleanup() {
      for (const e of [mnt, path.join(root, 'made', 'deep'), path.join(root, 'other')]) if (mountAt(e)) forceUnmount(e);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Mounts `ops` with `new Fuse` in this process for the length of `fn`; never leaves a mount behind. */
export async function withFuse<T>(ops: FuseOperations, opts: FuseOptions, fn: (fuse: Fuse, mnt: string) => Promise<T>): Promise<T> {
  const dirs = scratch();
  const fuse = new Fuse(dirs.mnt, ops, opts);
  try {
    await withTimeout(new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve()))), 10_000, 'mount');
    return await fn(fuse, dirs.mnt);
  } finally {
    forceUnmount(dirs.mnt);
    await sleep(50);
    dirs.cleanup();
  }
}

/** A directory from which `require('fusekit/fuse-native')` and `import 'fusekit/fuse-native'` resolve to this checkout. */
export function consumerDir(root: string): string {
  const dir = path.join(root, 'consumer');
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(REPO_ROOT, path.join(dir, 'node_modules', 'fusekit'));
  return dir;
}

/** A running child program; `lines` collects its stdout lines. */
export interface Program {
  child: ChildProcess;
  lines: string[];
  stderr(): string;
  /** Resolves with the first stdout line matching `re`. */
  waitLine(re: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

/** Runs `node FILE ...args` in `cwd`. The caller kills it (and force-unmounts) when done. */
export function startProgram(cwd: string, file: string, args: string[]): Program {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(process.execPath, [file, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  let partial = '';
  child.stdout!.on('data', (b: Buffer) => {
    partial += b.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 1 << 20) err += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    async waitLine(re, ms = 10_000) {
      const end = Date.now() + ms;
      for (;;) {
        const l = lines.find((x) => re.test(x));
        if (l !== undefined) return l;
        if (Date.now() > end || child.exitCode !== null) throw new Error(`no line matching ${re}; stdout: ${lines.join('|')}; stderr: ${err.slice(-2000)}`);
        await sleep(20);
      }
    },
  };
}

/** `data` cut or zero-extended to `size` bytes, as truncate(2) leaves a file. */
function resized(data: Buffer, size: number): Buffer {
  const d = Buffer.alloc(size);
  data.copy(d, 0, 0, Math.min(size, data.length));
  return d;
}
