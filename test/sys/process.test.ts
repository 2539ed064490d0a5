import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as sys from '../../src/sys/index.js';
import * as testSys from '../helpers/libc.js';

test('ids match process.*', () => {
  assert.equal(testSys.getpid(), process.pid);
  assert.equal(testSys.gettid(), process.pid); // main thread
  assert.equal(testSys.getuid(), process.getuid!());
  assert.equal(sys.geteuid(), process.geteuid!());
  assert.equal(testSys.getgid(), process.getgid!());
  assert.equal(sys.getegid(), process.getegid!());
});

test('gettid differs in a worker thread', async () => {
  const url = new URL('../helpers/libc.js', import.meta.url).href;
  const worker = new Worker(
    `import(${JSON.stringify(url)}).then((testSys) => require('node:worker_threads').parentPort.postMessage([testSys.gettid(), testSys.getpid()]));`,
    { eval: true },
  );
  const [tid, pid] = await new Promise<[number, number]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(pid, process.pid);
  assert.notEqual(tid, process.pid);
  assert.ok(tid > 0);
});

test('setfsuid/setfsgid return the previous value and change file ownership', (t) => {
  if (process.getuid!() !== 0) {
    t.skip('needs root to switch fsuid');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-sys-'));
  fs.chmodSync(dir, 0o777);
  const prevUid = testSys.setfsuid(1234);
  const prevGid = testSys.setfsgid(5678);
  let created: fs.Stats;
  try {
    assert.equal(prevUid, 0);
    assert.equal(prevGid, process.getegid!());
    sys.close(sys.open(path.join(dir, 'owned'), sys.O_WRONLY | sys.O_CREAT | sys.O_CLOEXEC, 0o600));
    created = fs.statSync(path.join(dir, 'owned'));
  } finally {
    assert.equal(testSys.setfsgid(prevGid), 5678);
    assert.equal(testSys.setfsuid(prevUid), 1234);
  }
  assert.equal(testSys.setfsuid(prevUid), prevUid); // restored
  assert.deepEqual([created.uid, created.gid], [1234, 5678]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('ioctl helpers fail cleanly on an unmounted /dev/fuse fd', (t) => {
  let fd: number;
  try {
    fd = sys.open('/dev/fuse', sys.O_RDWR | sys.O_CLOEXEC);
  } catch (err) {
    t.skip(`cannot open /dev/fuse (${(err as sys.SysError).code})`);
    return;
  }
  const other = sys.open('/dev/fuse', sys.O_RDWR | sys.O_CLOEXEC);
  try {
    assert.throws(() => testSys.fuseDevClone(fd, other), (err: unknown) =>
      err instanceof sys.SysError && ['EINVAL', 'EPERM'].includes(err.code) && err.syscall === 'ioctl');
    assert.throws(() => sys.fuseBackingOpen(fd, 0), (err: unknown) => err instanceof sys.SysError && err.syscall === 'ioctl');
    assert.throws(() => sys.fuseBackingClose(fd, 1), (err: unknown) => err instanceof sys.SysError && err.syscall === 'ioctl');
    assert.throws(() => testSys.fuseDevClone(-1, other), { code: 'EBADF', syscall: 'ioctl' });
    try {
      testSys.fuseSyncInit(fd); // allowed before mount on kernels that have it
    } catch (err) {
      assert.ok(err instanceof sys.SysError);
    }
  } finally {
    sys.close(fd);
    sys.close(other);
  }
});

test('ioctlBuffer passes request numbers above 2^31 (FS_IOC_GETFLAGS)', () => {
  const FS_IOC_GETFLAGS = 0x80086601;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-sys-'));
  const fd = sys.open(dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    const arg = Buffer.alloc(8, 0xff);
    try {
      assert.equal(testSys.ioctlBuffer(fd, FS_IOC_GETFLAGS, arg), 0);
      assert.notEqual(arg.readUInt32LE(0), 0xffffffff); // the kernel wrote the flags
    } catch (err) {
      assert.ok(err instanceof sys.SysError && ['ENOTTY', 'EOPNOTSUPP', 'EINVAL'].includes(err.code));
    }
    assert.throws(() => testSys.ioctlBuffer(fd, 0x7fff, arg), { code: 'ENOTTY', syscall: 'ioctl' });
  } finally {
    sys.close(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('umount2 of a directory that is not a mount point fails with EINVAL', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-sys-'));
  try {
    assert.throws(() => sys.umount2(dir, 0), (err: unknown) =>
      err instanceof sys.SysError && ['EINVAL', 'EPERM'].includes(err.code) && err.syscall === 'umount2');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
