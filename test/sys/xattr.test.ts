import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import * as testSys from '../helpers/libc.js';

const { ENODATA, EEXIST, ERANGE } = os.constants.errno;

function names(buf: Buffer, len: number): string[] {
  return buf.subarray(0, len).toString('latin1').split('\0').filter((n) => n !== '').sort();
}

test('user.* xattrs: set, get, list, flags, remove (path, l* and f* forms)', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-sys-'));
  try {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, '');
    try {
      sys.setxattr(file, 'user.probe', Buffer.from('1'), 0);
    } catch (err) {
      const code = (err as sys.SysError).code;
      if (code === 'EOPNOTSUPP' || code === 'ENOTSUP') {
        t.skip(`${os.tmpdir()} does not support user xattrs (${code})`);
        return;
      }
      throw err;
    }
    sys.removexattr(file, 'user.probe');

    const value = Buffer.from([0, 1, 2, 0xff, 0x80, 0]); // binary, with NULs
    sys.setxattr(file, 'user.bin', value, sys.XATTR_CREATE);
    assert.equal(testSys.getxattr(file, 'user.bin', null), value.length); // size query
    assert.equal(testSys.getxattr(file, 'user.bin', Buffer.alloc(0)), value.length);
    const got = Buffer.alloc(64);
    assert.equal(testSys.getxattr(file, 'user.bin', got), value.length);
    assert.ok(got.subarray(0, value.length).equals(value));
    assert.throws(() => testSys.getxattr(file, 'user.bin', Buffer.alloc(2)), { code: 'ERANGE', errno: ERANGE, syscall: 'getxattr' });

    assert.throws(() => sys.setxattr(file, 'user.bin', Buffer.from('x'), sys.XATTR_CREATE), {
      code: 'EEXIST', errno: EEXIST, syscall: 'setxattr',
    });
    assert.throws(() => sys.setxattr(file, 'user.none', Buffer.from('x'), sys.XATTR_REPLACE), {
      code: 'ENODATA', errno: ENODATA, syscall: 'setxattr',
    });
    sys.setxattr(file, 'user.bin', Buffer.from('replaced'), sys.XATTR_REPLACE);
    sys.setxattr(file, 'user.empty', Buffer.alloc(0), 0);
    assert.equal(testSys.getxattr(file, 'user.empty', null), 0);

    testSys.lsetxattr(file, 'user.l', Buffer.from('L'), 0);
    assert.equal(testSys.lgetxattr(file, 'user.l', got), 1);
    assert.equal(got[0], 0x4c);

    const fd = sys.open(file, sys.O_RDONLY | sys.O_CLOEXEC);
    try {
      sys.fsetxattr(fd, 'user.fd', Buffer.from('via fd'), 0);
      assert.equal(testSys.fgetxattr(fd, 'user.fd', got), 6);
      assert.equal(got.subarray(0, 6).toString(), 'via fd');
      assert.equal(testSys.fgetxattr(fd, 'user.bin', got), 8);
      assert.equal(got.subarray(0, 8).toString(), 'replaced');

      const need = sys.flistxattr(fd, null);
      const list = Buffer.alloc(need);
      assert.equal(sys.flistxattr(fd, list), need);
      const expected = ['user.bin', 'user.empty', 'user.fd', 'user.l'];
      assert.deepEqual(names(list, need).filter((n) => n.startsWith('user.')), expected);
      const list2 = Buffer.alloc(1024);
      assert.deepEqual(names(list2, sys.listxattr(file, list2)).filter((n) => n.startsWith('user.')), expected);
      assert.deepEqual(names(list2, testSys.llistxattr(file, list2)).filter((n) => n.startsWith('user.')), expected);
      assert.equal(sys.listxattr(file, null), need);
      if (need > 1) assert.throws(() => sys.listxattr(file, Buffer.alloc(1)), { code: 'ERANGE', syscall: 'listxattr' });

      sys.fremovexattr(fd, 'user.fd');
      testSys.lremovexattr(file, 'user.l');
      sys.removexattr(file, 'user.empty');
      assert.throws(() => testSys.fgetxattr(fd, 'user.fd', null), { code: 'ENODATA', syscall: 'fgetxattr' });
      assert.throws(() => sys.removexattr(file, 'user.empty'), { code: 'ENODATA', syscall: 'removexattr' });
      assert.deepEqual(names(list2, sys.listxattr(file, list2)).filter((n) => n.startsWith('user.')), ['user.bin']);
    } finally {
      sys.close(fd);
    }

    // the kernel refuses user.* on symlinks; lgetxattr must not follow the link
    fs.symlinkSync('f', path.join(dir, 'l'));
    assert.equal(testSys.getxattr(path.join(dir, 'l'), 'user.bin', null), 8);
    assert.throws(() => testSys.lgetxattr(path.join(dir, 'l'), 'user.bin', null), { code: 'ENODATA', syscall: 'lgetxattr' });
    assert.throws(() => testSys.lsetxattr(path.join(dir, 'l'), 'user.x', Buffer.from('x'), 0), { code: 'EPERM', syscall: 'lsetxattr' });
    assert.throws(() => testSys.getxattr(path.join(dir, 'missing'), 'user.bin', null), { code: 'ENOENT', syscall: 'getxattr' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
