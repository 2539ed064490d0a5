import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import * as sys from '../../src/sys/index.js';
import * as testSys from '../helpers/libc.js';

test('errnoName maps numbers to the kernel names', () => {
  assert.equal(sys.errnoName(os.constants.errno.ENOENT), 'ENOENT');
  assert.equal(sys.errnoName(os.constants.errno.EAGAIN), 'EAGAIN');
  assert.equal(sys.errnoName(os.constants.errno.EOPNOTSUPP), 'EOPNOTSUPP');
  assert.equal(sys.errnoName(os.constants.errno.EDEADLK), 'EDEADLK');
  assert.equal(sys.errnoName(9999), 'E9999');
});

test('SysError carries code, positive errno and syscall', () => {
  const err = new sys.SysError(os.constants.errno.EEXIST, 'mkdirat');
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'SysError');
  assert.equal(err.code, 'EEXIST');
  assert.equal(err.errno, 17);
  assert.equal(err.syscall, 'mkdirat');
  assert.equal(err.message, 'EEXIST: mkdirat');
  assert.throws(() => sys.throwErrno('openat', 2), { name: 'SysError', code: 'ENOENT', errno: 2, syscall: 'openat' });
});

test('bad fds fail with EBADF instead of crashing', () => {
  const buf = Buffer.alloc(16);
  const ebadf = (syscall: string) => ({ name: 'SysError', code: 'EBADF', errno: os.constants.errno.EBADF, syscall });
  assert.throws(() => sys.close(987654), ebadf('close'));
  assert.equal(sys.tryClose(-1), -os.constants.errno.EBADF);
  assert.throws(() => sys.fstat(-1), ebadf('fstat'));
  assert.throws(() => testSys.read(987654, buf, 0, 16), ebadf('read'));
  assert.equal(sys.tryRead(-5, buf, 0, 16), -os.constants.errno.EBADF);
  assert.throws(() => testSys.write(-5, buf, 0, 16), ebadf('write'));
  assert.equal(sys.tryWrite(-5, buf, 0, 16), -os.constants.errno.EBADF);
  assert.throws(() => testSys.pread(-5, buf, 0, 16, 0), ebadf('pread'));
  assert.throws(() => testSys.fsync(-5), ebadf('fsync'));
  assert.throws(() => sys.ftruncate(-5, 0), ebadf('ftruncate'));
  assert.throws(() => sys.getdents64(-5, buf), ebadf('getdents64'));
  assert.throws(() => sys.fstatfs(-5), ebadf('fstatfs'));
  assert.throws(() => testSys.fgetxattr(-5, 'user.x', null), ebadf('fgetxattr'));
  assert.throws(() => sys.lseek(-5, 0, sys.SEEK_SET), ebadf('lseek'));
  assert.throws(() => sys.fstatat(-5, 'x', 0), ebadf('fstatat'));
  assert.throws(() => testSys.ioctlBuffer(-5, 0x80086601, Buffer.alloc(8)), ebadf('ioctl'));
});

test('out-of-range buffer slices fail with EFAULT before reaching the kernel', () => {
  const buf = Buffer.alloc(16);
  const efault = os.constants.errno.EFAULT;
  assert.throws(() => testSys.read(0, buf, 8, 9), { code: 'EFAULT', syscall: 'read' });
  assert.throws(() => testSys.write(1, buf, -1, 4), { code: 'EFAULT', syscall: 'write' });
  assert.throws(() => testSys.pwrite(1, buf, 0, 17, 0), { code: 'EFAULT', syscall: 'pwrite' });
  assert.equal(sys.tryRead(0, buf, 16, 1), -efault);
  assert.equal(sys.tryWrite(1, buf, 0, Number.NaN), -efault);
});

test('names containing NUL fail with EINVAL', () => {
  assert.throws(() => sys.fstatat(sys.AT_FDCWD, '/tmp\0/x', 0), { code: 'EINVAL', syscall: 'fstatat' });
  assert.throws(() => sys.openat(sys.AT_FDCWD, Buffer.from('/tmp\0x'), sys.O_RDONLY), { code: 'EINVAL', syscall: 'openat' });
  assert.equal(sys.tryFstatat(sys.AT_FDCWD, 'a\0b', 0, sys.emptyStat()), -os.constants.errno.EINVAL);
  assert.throws(() => sys.mount('a', '/b\0', 'x', 0, null), { code: 'EINVAL', syscall: 'mount' });
});
