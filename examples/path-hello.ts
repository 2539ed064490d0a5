/**
 * The smallest path filesystem: one read-only file, /hello.
 *
 *   node dist/examples/path-hello.js /mnt/hello
 *   cat /mnt/hello/hello
 */
import { mountPaths, Errno, S_IFDIR, S_IFREG } from 'fusekit';
import type { PathAttr, PathFilesystem } from 'fusekit';

const HELLO = Buffer.from('hello, world\n');

export const helloFilesystem: PathFilesystem = {
  getattr(path): PathAttr | Errno {
    if (path === '/') return { mode: S_IFDIR | 0o755, nlink: 2 };
    if (path === '/hello') return { mode: S_IFREG | 0o444, size: HELLO.length };
    return Errno.of('ENOENT');
  },
  readdir: (path) => (path === '/' ? ['hello'] : Errno.of('ENOTDIR')),
  // Read-only: refuse opens for writing, as a read-only file on a disk would for root too.
  open: (_path, flags) => ((flags & 3) === 0 ? 0 : Errno.of('EACCES')),
  read: (_path, _fh, dest, offset) => (offset >= HELLO.length ? 0 : HELLO.copy(dest, 0, offset)),
};

// Run as a program: mount until SIGINT/SIGTERM (which unmount, then end the process).
if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: path-hello MOUNTPOINT\n');
    process.exit(2);
  }
  const m = await mountPaths(target, helloFilesystem, { source: 'hello', subtype: 'hello', unmountOnSignal: true });
  await m.ended;
}
