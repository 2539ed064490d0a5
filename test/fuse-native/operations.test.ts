/**
 * Every fuse-native operation on a real mount: the arguments each receives,
 * in fuse-native's order and types, and how its callback's values reach the
 * caller. Run with callbacks answered at once and on the next tick.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRun, run } from '../helpers/mount.js';
import { recordingOps, withFuse, type Recorded } from './helpers.js';

const CLIENT = `
import os, sys, errno, stat, mmap, subprocess
m = sys.argv[1]
out = []
def note(name, f):
    try:
        out.append('%s %r' % (name, f()))
    except OSError as e:
        out.append('%s %s' % (name, errno.errorcode[e.errno]))
os.umask(0o022)
note('mkdir', lambda: os.mkdir(m + '/d', 0o750))
fd = os.open(m + '/d/f', os.O_CREAT | os.O_RDWR, 0o640)
note('write', lambda: os.write(fd, b'hello'))
note('fsync', lambda: os.fsync(fd))
note('fdatasync', lambda: os.fdatasync(fd))
note('seek-end', lambda: os.lseek(fd, 0, os.SEEK_END))
note('ftruncate', lambda: os.ftruncate(fd, 4))
os.close(fd)
fd = os.open(m + '/d/f', os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
n = os.readv(fd, [buf])
note('read', lambda: bytes(buf[:n]))
os.close(fd)
note('truncate', lambda: os.truncate(m + '/d/f', 3))
note('chmod', lambda: os.chmod(m + '/d/f', 0o600))
note('chown', lambda: os.chown(m + '/d/f', 1000, 1001))
note('utime', lambda: os.utime(m + '/d/f', ns=(1000000000500000000, 2000000000250000000)))
note('touch-m', lambda: subprocess.run(['touch', '-m', '-d', '@3000', m + '/d/f'], check=True).returncode)
note('times', lambda: (os.stat(m + '/d/f').st_atime_ns, os.stat(m + '/d/f').st_mtime_ns))
note('setxattr', lambda: os.setxattr(m + '/d/f', 'user.a', b'xyz', os.XATTR_CREATE))
note('getxattr', lambda: os.getxattr(m + '/d/f', 'user.a'))
note('listxattr', lambda: os.listxattr(m + '/d/f'))
note('removexattr', lambda: os.removexattr(m + '/d/f', 'user.a'))
note('getxattr-gone', lambda: os.getxattr(m + '/d/f', 'user.a'))
note('symlink', lambda: os.symlink('target', m + '/d/s'))
note('readlink', lambda: os.readlink(m + '/d/s'))
note('link', lambda: os.link(m + '/d/f', m + '/d/h'))
note('rename', lambda: os.rename(m + '/d/h', m + '/d/h2'))
note('rename-noreplace', lambda: subprocess.run(['mv', '-n', m + '/d/h2', m + '/d/f']).returncode)
note('unlink', lambda: os.unlink(m + '/d/h2'))
note('mknod', lambda: os.mknod(m + '/d/p', 0o600 | stat.S_IFIFO))
note('listdir', lambda: sorted(os.listdir(m + '/d')))
dfd = os.open(m + '/d', os.O_RDONLY | os.O_DIRECTORY)
note('fsyncdir', lambda: os.fsync(dfd))
os.close(dfd)
note('statvfs', lambda: (os.statvfs(m).f_blocks, os.statvfs(m).f_namemax))
note('access', lambda: os.access(m + '/d/f', os.R_OK))
note('rmdir-full', lambda: os.rmdir(m + '/d'))
note('stat-missing', lambda: os.stat(m + '/nope'))
print('\\n'.join(out))
`;

function calls(log: Recorded[], op: string): unknown[][] {
  return log.filter((c) => c.op === op).map((c) => c.args);
}

for (const mode of ['sync', 'async'] as const) {
  test(`every operation gets fuse-native's arguments and its callback's values reach the caller (callbacks ${mode})`, { timeout: 60_000 }, async () => {
    const log: Recorded[] = [];
    await withFuse(recordingOps(log, { async: mode === 'async' }), { entryTimeout: 0, attrTimeout: 0 }, async (_fuse, mnt) => {
      const r = await run('python3', ['-c', CLIENT, mnt], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, describeRun(r));
      const out = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
      assert.equal(out['write'], '5');
      assert.equal(out['seek-end'], '5');
      assert.equal(out['read'], "b'hell'");
      assert.equal(out['times'], '(1000000000500000000, 3000000000000)');
      assert.equal(out['getxattr'], "b'xyz'");
      assert.equal(out['listxattr'], "['user.a']");
      assert.equal(out['getxattr-gone'], 'ENODATA');
      assert.equal(out['readlink'], "'target'");
      assert.equal(out['listdir'], "['f', 'p', 's']");
      assert.equal(out['statvfs'], '(6000000000, 200)', 'statfs counts past 2^32 arrive whole');
      assert.equal(out['access'], 'True');
      assert.equal(out['rmdir-full'], 'ENOTEMPTY');
      assert.equal(out['stat-missing'], 'ENOENT');

      assert.deepEqual(calls(log, 'init'), [[]]);
      assert.deepEqual(calls(log, 'mkdir'), [['/d', 0o750]]);
      assert.deepEqual(calls(log, 'create'), [['/d/f', 0o100640]]);
      const fd = calls(log, 'create').length && (calls(log, 'write')[0]![1] as number);
      assert.deepEqual(calls(log, 'write'), [['/d/f', fd, 'hello', 5, 0]]);
      assert.deepEqual(calls(log, 'fsync'), [['/d/f', 0, fd], ['/d/f', 1, fd]], 'fsync(path, datasync, fd): the order fuse-native passes');
      assert.ok(calls(log, 'fgetattr').some((a) => a[0] === '/d/f' && a[1] === fd), 'fgetattr(path, fd) for a GETATTR on an open file');
      assert.deepEqual(calls(log, 'ftruncate'), [['/d/f', fd, 4]]);
      assert.ok(calls(log, 'flush').some((a) => a[0] === '/d/f' && a[1] === fd));
      assert.ok(calls(log, 'release').some((a) => a[0] === '/d/f' && a[1] === fd));
      const opens = calls(log, 'open');
      assert.ok(opens.length >= 1 && opens.every((a) => a[0] === '/d/f' && typeof a[1] === 'number'), JSON.stringify(opens));
      assert.ok(opens.some((a) => ((a[1] as number) & 0o40000) !== 0), 'the O_DIRECT open carries its flags');
      const readFd = calls(log, 'read')[0]![1];
      assert.deepEqual(calls(log, 'read')[0], ['/d/f', readFd, true, 4096, 0]);
      assert.deepEqual(calls(log, 'truncate'), [['/d/f', 3]]);
      assert.deepEqual(calls(log, 'chmod'), [['/d/f', 0o100600]]);
      assert.deepEqual(calls(log, 'chown'), [['/d/f', 1000, 1001]]);
      // The real mtime (fuse-native passes atime twice), in milliseconds; a time left alone arrives as it was.
      assert.deepEqual(calls(log, 'utimens'), [['/d/f', 1000000000500, 2000000000250], ['/d/f', 1000000000500, 3000000]]);
      assert.deepEqual(calls(log, 'setxattr'), [['/d/f', 'user.a', Buffer.from('xyz'), 0, 1]]);
      const gets = calls(log, 'getxattr').filter((a) => a[1] === 'user.a');
      assert.ok(gets.length > 0 && gets.every((a) => a[0] === '/d/f' && a[2] === 0), JSON.stringify(gets));
      assert.deepEqual(calls(log, 'listxattr')[0], ['/d/f']);
      assert.deepEqual(calls(log, 'removexattr'), [['/d/f', 'user.a']]);
      assert.deepEqual(calls(log, 'symlink'), [['target', '/d/s']]);
      assert.deepEqual(calls(log, 'readlink'), [['/d/s']]);
      assert.deepEqual(calls(log, 'link'), [['/d/f', '/d/h']]);
      // mv -n asks for RENAME_NOREPLACE, which fuse-native cannot express: it never reaches the program.
      assert.deepEqual(calls(log, 'rename'), [['/d/h', '/d/h2']]);
      assert.deepEqual(calls(log, 'unlink'), [['/d/h2']]);
      assert.deepEqual(calls(log, 'mknod'), [['/d/p', 0o010600, 0]]);
      assert.ok(calls(log, 'opendir').some((a) => a[0] === '/d' && typeof a[1] === 'number'));
      assert.ok(calls(log, 'readdir').some((a) => a[0] === '/d'));
      assert.ok(calls(log, 'releasedir').some((a) => a[0] === '/d' && a[1] === 77), 'releasedir gets the fd opendir gave');
      assert.deepEqual(calls(log, 'fsyncdir'), [['/d', 0, 77]]);
      assert.deepEqual(calls(log, 'statfs')[0], ['/']);
      assert.deepEqual(calls(log, 'access'), [['/d/f', 4]]);
      assert.ok(calls(log, 'rmdir').some((a) => a[0] === '/d'));
      assert.ok(calls(log, 'getattr').some((a) => a[0] === '/nope'));
    });
  });
}

test('callback values: errors as negative numbers or Error objects, read and write counts, timeouts', { timeout: 60_000 }, async () => {
  const ops = {
    getattr(p: string, cb: (...a: unknown[]) => void) {
      if (p === '/') return cb(null, { mode: 0o40755 });
      if (p === '/eacces') return cb(-13);
      if (p === '/err-object') return cb(Object.assign(new Error('x'), { code: 'EROFS' }));
      if (p === '/slow') return; // never answers: the per-operation timeout fails it
      return cb(0, { mode: 0o100644, size: 100, mtime: 1234567, atime: new Date(7654321) });
    },
    open(_p: string, _f: number, cb: (...a: unknown[]) => void) { cb(0); },
    read(_p: string, fd: number, buf: Buffer, _len: number, pos: number, cb: (...a: unknown[]) => void) {
      if (pos > 0) return cb(0);
      buf.write(`fd=${fd}`);
      cb(4);
    },
    write(_p: string, _fd: number, _buf: Buffer, _len: number, _pos: number, cb: (...a: unknown[]) => void) { cb(-28); },
  };
  await withFuse(ops, { timeout: { default: 15_000, getattr: 500 } as never }, async (_fuse, mnt) => {
    const r = await run('python3', ['-c', `
import os, sys, errno
m = sys.argv[1]
for name in ['eacces', 'err-object', 'slow', 'nope']:
    try:
        st = os.stat(m + '/' + name)
        print(name, st.st_size, st.st_mtime_ns, st.st_atime_ns)
    except OSError as e:
        print(name, errno.errorcode[e.errno])
print(open(m + '/nope').read())
try:
    with open(m + '/nope', 'r+') as f: f.write('x')
except OSError as e:
    print('write', errno.errorcode[e.errno])
`, mnt], { timeoutMs: 30_000 });
    assert.equal(r.stdout, 'eacces EACCES\nerr-object EROFS\nslow ETIMEDOUT\nnope 100 1234567000000 7654321000000\nfd=0\nwrite ENOSPC\n', describeRun(r));
  });
});
