import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { withTempDir } from '../helpers/tempdir.js';

/** withTempDir, with an O_PATH descriptor of the directory for the *at calls. */
function withTempDirFd(fn: (dir: string, dirfd: number) => void): () => void {
  return withTempDir((dir) => {
    const dirfd = sys.open(dir, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC);
    try {
      fn(dir, dirfd);
    } finally {
      sys.close(dirfd);
    }
  });
}

test('mkdirat, mknodat (FIFO), unlinkat', withTempDirFd((dir, dirfd) => {
  sys.mkdirat(dirfd, 'sub', 0o750);
  const st = fs.statSync(path.join(dir, 'sub'));
  assert.ok(st.isDirectory());
  assert.equal(st.mode & 0o777, 0o750 & ~process.umask());
  assert.throws(() => sys.mkdirat(dirfd, 'sub', 0o755), { code: 'EEXIST', errno: os.constants.errno.EEXIST, syscall: 'mkdirat' });

  sys.mknodat(dirfd, 'fifo', sys.S_IFIFO | 0o644, 0);
  assert.ok(fs.lstatSync(path.join(dir, 'fifo')).isFIFO());
  sys.mknodat(dirfd, 'reg', sys.S_IFREG | 0o600, 0);
  assert.ok(fs.lstatSync(path.join(dir, 'reg')).isFile());
  if (process.getuid!() === 0) {
    sys.mknodat(dirfd, 'null', sys.S_IFCHR | 0o666, sys.makedev(1, 3));
    assert.equal(fs.lstatSync(path.join(dir, 'null')).rdev, fs.statSync('/dev/null').rdev);
    assert.equal(sys.fstatat(dirfd, 'null', 0).rdev, sys.makedev(1, 3));
  }

  assert.throws(() => sys.unlinkat(dirfd, 'sub', 0), { code: 'EISDIR', syscall: 'unlinkat' });
  sys.unlinkat(dirfd, 'sub', sys.AT_REMOVEDIR);
  sys.unlinkat(dirfd, 'fifo', 0);
  assert.equal(fs.existsSync(path.join(dir, 'sub')), false);
  assert.equal(fs.existsSync(path.join(dir, 'fifo')), false);
  assert.throws(() => sys.unlinkat(dirfd, 'fifo', 0), { code: 'ENOENT', syscall: 'unlinkat' });
}));

test('symlinkat and readlinkat, including raw bytes and the O_PATH empty-name form', withTempDirFd((dir, dirfd) => {
  sys.symlinkat('target/file', dirfd, 'link');
  assert.equal(fs.readlinkSync(path.join(dir, 'link')), 'target/file');
  assert.ok(sys.readlinkat(dirfd, 'link').equals(Buffer.from('target/file')));

  const rawTarget = Buffer.from([0x2e, 0x2e, 0x2f, 0xc3, 0x28, 0xff]); // invalid UTF-8
  sys.symlinkat(rawTarget, dirfd, Buffer.from('raw'));
  assert.ok(sys.readlinkat(dirfd, 'raw').equals(rawTarget));
  assert.ok((fs.readlinkSync(path.join(dir, 'raw'), { encoding: 'buffer' }) as Buffer).equals(rawTarget));

  const longTarget = 'x'.repeat(4095); // PATH_MAX - 1, the longest target Linux allows
  sys.symlinkat(longTarget, dirfd, 'long');
  assert.equal(sys.readlinkat(dirfd, 'long').toString(), longTarget);

  const lfd = sys.openat(dirfd, 'link', sys.O_PATH | sys.O_NOFOLLOW | sys.O_CLOEXEC);
  try {
    assert.ok(sys.readlinkat(lfd, '').equals(Buffer.from('target/file')));
  } finally {
    sys.close(lfd);
  }
  // the result is a copy, not a view of scratch memory
  const first = sys.readlinkat(dirfd, 'link');
  sys.readlinkat(dirfd, 'raw');
  assert.equal(first.toString(), 'target/file');

  assert.throws(() => sys.symlinkat('t', dirfd, 'link'), { code: 'EEXIST', syscall: 'symlinkat' });
  fs.writeFileSync(path.join(dir, 'plain'), '');
  assert.throws(() => sys.readlinkat(dirfd, 'plain'), { code: 'EINVAL', syscall: 'readlinkat' });
  assert.throws(() => sys.readlinkat(dirfd, 'missing'), { code: 'ENOENT', syscall: 'readlinkat' });
}));

test('renameat2: plain, RENAME_NOREPLACE, RENAME_EXCHANGE', withTempDirFd((dir, dirfd) => {
  fs.writeFileSync(path.join(dir, 'a'), 'A');
  fs.writeFileSync(path.join(dir, 'b'), 'B');
  assert.throws(() => sys.renameat2(dirfd, 'a', dirfd, 'b', sys.RENAME_NOREPLACE), {
    code: 'EEXIST', errno: os.constants.errno.EEXIST, syscall: 'renameat2',
  });
  sys.renameat2(dirfd, 'a', dirfd, 'b', sys.RENAME_EXCHANGE);
  assert.equal(fs.readFileSync(path.join(dir, 'a'), 'utf8'), 'B');
  assert.equal(fs.readFileSync(path.join(dir, 'b'), 'utf8'), 'A');
  sys.renameat2(dirfd, 'a', dirfd, Buffer.from('c'), sys.RENAME_NOREPLACE);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['b', 'c']);
  sys.renameat2(dirfd, 'c', sys.AT_FDCWD, path.join(dir, 'b'), 0); // replaces
  assert.deepEqual(fs.readdirSync(dir), ['b']);
  assert.equal(fs.readFileSync(path.join(dir, 'b'), 'utf8'), 'B');
  assert.throws(() => sys.renameat2(dirfd, 'zz', dirfd, 'b', sys.RENAME_EXCHANGE), { code: 'ENOENT' });
}));

test('linkat', withTempDirFd((dir, dirfd) => {
  fs.writeFileSync(path.join(dir, 'orig'), 'data');
  sys.linkat(dirfd, 'orig', dirfd, 'hard', 0);
  const a = sys.fstatat(dirfd, 'orig', 0);
  const b = sys.fstatat(dirfd, 'hard', 0);
  assert.equal(a.ino, b.ino);
  assert.equal(a.nlink, 2);
  assert.throws(() => sys.linkat(dirfd, 'orig', dirfd, 'hard', 0), { code: 'EEXIST', syscall: 'linkat' });
  // link an fd by AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH)
  if (process.getuid!() === 0) {
    const fd = sys.openat(dirfd, 'orig', sys.O_RDONLY | sys.O_CLOEXEC);
    try {
      sys.linkat(fd, '', dirfd, Buffer.from('third'), sys.AT_EMPTY_PATH);
    } finally {
      sys.close(fd);
    }
    assert.equal(sys.fstatat(dirfd, 'third', 0).nlink, 3);
  }
}));

test('fchmod, fchmodat, fchown, fchownat', withTempDirFd((dir, dirfd) => {
  fs.writeFileSync(path.join(dir, 'f'), '');
  sys.fchmodat(dirfd, 'f', 0o604, 0);
  assert.equal(fs.statSync(path.join(dir, 'f')).mode & 0o7777, 0o604);
  const fd = sys.openat(dirfd, 'f', sys.O_RDONLY | sys.O_CLOEXEC);
  try {
    sys.fchmod(fd, 0o4711);
    assert.equal(fs.statSync(path.join(dir, 'f')).mode & 0o7777, 0o4711);
    const before = fs.statSync(path.join(dir, 'f'));
    sys.fchown(fd, -1, -1); // no change
    assert.equal(fs.statSync(path.join(dir, 'f')).uid, before.uid);
    if (process.getuid!() === 0) {
      sys.fchown(fd, 1234, -1);
      assert.deepEqual([fs.statSync(path.join(dir, 'f')).uid, fs.statSync(path.join(dir, 'f')).gid], [1234, before.gid]);
      sys.fchownat(dirfd, 'f', -1, 4321, 0);
      assert.deepEqual([fs.statSync(path.join(dir, 'f')).uid, fs.statSync(path.join(dir, 'f')).gid], [1234, 4321]);
      sys.fchownat(dirfd, 'f', 3_000_000_000, 3_000_000_001, 0); // ids above 2^31
      assert.deepEqual([sys.fstat(fd).uid, sys.fstat(fd).gid], [3_000_000_000, 3_000_000_001]);
      fs.symlinkSync('f', path.join(dir, 'l'));
      sys.fchownat(dirfd, 'l', 77, 88, sys.AT_SYMLINK_NOFOLLOW);
      const l = fs.lstatSync(path.join(dir, 'l'));
      assert.deepEqual([l.uid, l.gid], [77, 88]);
      assert.equal(sys.fstat(fd).uid, 3_000_000_000); // target untouched
    }
  } finally {
    sys.close(fd);
  }
  assert.throws(() => sys.fchmodat(dirfd, 'missing', 0o600, 0), { code: 'ENOENT', syscall: 'fchmodat' });
}));

test('fchmodat2 changes the mode through an O_PATH descriptor (AT_EMPTY_PATH)', (t) => {
  withTempDirFd((dir, dirfd) => {
    fs.writeFileSync(path.join(dir, 'f'), '');
    fs.chmodSync(path.join(dir, 'f'), 0o600);
    const fd = sys.openat(dirfd, 'f', sys.O_PATH | sys.O_CLOEXEC);
    try {
      try {
        sys.fchmodat2(fd, '', 0o2751, sys.AT_EMPTY_PATH);
      } catch (err) {
        if ((err as sys.SysError).code !== 'ENOSYS') throw err;
        t.skip('this kernel has no fchmodat2 (Linux 6.6+)');
        return;
      }
      assert.equal(fs.statSync(path.join(dir, 'f')).mode & 0o7777, 0o2751);
      sys.fchmodat2(dirfd, 'f', 0o640, 0);
      assert.equal(fs.statSync(path.join(dir, 'f')).mode & 0o7777, 0o640);
      assert.throws(() => sys.fchmodat2(dirfd, 'missing', 0o600, 0), { code: 'ENOENT', syscall: 'fchmodat2' });
    } finally {
      sys.close(fd);
    }
  })();
});

test('utimensat with UTIME_OMIT, UTIME_NOW, exact ns, a null name; futimens', withTempDirFd((dir, dirfd) => {
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, '');
  sys.utimensat(dirfd, 'f', { sec: 1_000_000_000, nsec: 1 }, { sec: 2_000_000_000, nsec: 999_999_999 }, 0);
  let st = fs.statSync(file, { bigint: true });
  assert.equal(st.atimeNs, 1_000_000_000_000_000_001n);
  assert.equal(st.mtimeNs, 2_000_000_000_999_999_999n);

  sys.utimensat(dirfd, Buffer.from('f'), { sec: 0, nsec: sys.UTIME_OMIT }, { sec: 5, nsec: 6 }, 0);
  st = fs.statSync(file, { bigint: true });
  assert.equal(st.atimeNs, 1_000_000_000_000_000_001n); // omitted
  assert.equal(st.mtimeNs, 5_000_000_006n);

  sys.utimensat(dirfd, 'f', { sec: -1, nsec: 500 }, { sec: 0, nsec: sys.UTIME_OMIT }, 0); // before 1970
  st = fs.statSync(file, { bigint: true });
  assert.equal(st.atimeNs, -999_999_500n);
  assert.equal(st.mtimeNs, 5_000_000_006n);

  const t0 = BigInt(Date.now() - 5000) * 1_000_000n;
  const fd = sys.openat(dirfd, 'f', sys.O_RDWR | sys.O_CLOEXEC);
  try {
    sys.utimensat(fd, null, { sec: 0, nsec: sys.UTIME_NOW }, { sec: 0, nsec: sys.UTIME_OMIT }, 0);
    st = fs.statSync(file, { bigint: true });
    assert.ok(st.atimeNs > t0);
    assert.equal(st.mtimeNs, 5_000_000_006n);
    sys.futimens(fd, { sec: 0, nsec: sys.UTIME_OMIT }, { sec: 42, nsec: 43 });
    st = fs.statSync(file, { bigint: true });
    assert.equal(st.mtimeNs, 42_000_000_043n);
  } finally {
    sys.close(fd);
  }

  fs.symlinkSync('f', path.join(dir, 'l'));
  sys.utimensat(dirfd, 'l', { sec: 7, nsec: 0 }, { sec: 8, nsec: 0 }, sys.AT_SYMLINK_NOFOLLOW);
  assert.equal(fs.lstatSync(path.join(dir, 'l'), { bigint: true }).mtimeNs, 8_000_000_000n);
  assert.equal(fs.statSync(file, { bigint: true }).mtimeNs, 42_000_000_043n);
  assert.throws(() => sys.utimensat(dirfd, 'f', { sec: 0, nsec: 1_000_000_000 }, { sec: 0, nsec: 0 }, 0), {
    code: 'EINVAL', syscall: 'utimensat',
  });
}));
