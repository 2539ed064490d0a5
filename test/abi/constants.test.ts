import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DevIoctl,
  Fattr,
  Fopen,
  INIT_FLAG_SINCE_MINOR,
  InitFlag,
  KERNEL_MINOR_VERSION,
  MIN_READ_BUFFER,
  NotifyCode,
  Opcode,
  ROOT_ID,
  UNIQUE_RESEND,
  initFlagNames,
  minReadBufferSize,
  opcodeName,
} from '../../src/abi/index.js';

test('opcode numbers and names', () => {
  assert.equal(Opcode.LOOKUP, 1);
  assert.equal(Opcode.MKNOD, 8); // 7 is unused
  assert.equal(Opcode.FSYNC, 20); // 19 is unused
  assert.equal(Opcode.INIT, 26);
  assert.equal(Opcode.BATCH_FORGET, 42);
  assert.equal(Opcode.RENAME2, 45);
  assert.equal(Opcode.COPY_FILE_RANGE_64, 53);
  assert.equal(Opcode.CUSE_INIT, 4096);
  // 1..53 minus the two holes, plus CUSE_INIT.
  assert.equal(Object.keys(Opcode).length, 53 - 2 + 1);
  assert.equal(new Set(Object.values(Opcode)).size, Object.keys(Opcode).length);

  assert.equal(opcodeName(1), 'LOOKUP');
  assert.equal(opcodeName(53), 'COPY_FILE_RANGE_64');
  assert.equal(opcodeName(4096), 'CUSE_INIT');
  assert.equal(opcodeName(7), 'OPCODE_7');
  assert.equal(opcodeName(1000), 'OPCODE_1000');
});

test('INIT flag bits and the minor each appeared in', () => {
  assert.equal(InitFlag.ASYNC_READ, 1n);
  assert.equal(InitFlag.WRITEBACK_CACHE, 0x10000n);
  assert.equal(InitFlag.INIT_EXT, 1n << 30n);
  assert.equal(InitFlag.SECURITY_CTX, 1n << 32n);
  assert.equal(InitFlag.PASSTHROUGH, 1n << 37n);
  assert.equal(InitFlag.REQUEST_TIMEOUT, 1n << 42n);
  // Every flag is a single distinct bit.
  const bits = Object.values(InitFlag);
  for (const bit of bits) assert.equal(bit & (bit - 1n), 0n);
  assert.equal(new Set(bits).size, bits.length);

  assert.deepEqual(Object.keys(INIT_FLAG_SINCE_MINOR).sort(), Object.keys(InitFlag).sort());
  assert.equal(INIT_FLAG_SINCE_MINOR.PASSTHROUGH, 40);
  assert.equal(INIT_FLAG_SINCE_MINOR.INIT_EXT, 36);
  assert.equal(INIT_FLAG_SINCE_MINOR.ATOMIC_O_TRUNC, 9);
  for (const since of Object.values(INIT_FLAG_SINCE_MINOR)) {
    assert.ok(since >= 6 && since <= KERNEL_MINOR_VERSION);
  }
});

test('initFlagNames decodes the flags a 6.18 kernel offers', () => {
  // Observed INIT: flags 0x73fffffb, flags2 0x5fd.
  const names = initFlagNames((0x5fdn << 32n) | 0x73fffffbn);
  assert.ok(names.includes('ASYNC_READ'));
  assert.ok(names.includes('PASSTHROUGH'));
  assert.ok(names.includes('REQUEST_TIMEOUT'));
  assert.ok(!names.includes('MAP_ALIGNMENT'));
  assert.ok(!names.includes('SUBMOUNTS'));
  assert.ok(!names.includes('HAS_INODE_DAX'));
  assert.ok(!names.includes('OVER_IO_URING'));
  assert.deepEqual(initFlagNames(0n), []);
  assert.deepEqual(initFlagNames(InitFlag.POSIX_LOCKS | InitFlag.INIT_EXT), ['POSIX_LOCKS', 'INIT_EXT']);
  // Bits without a name (FILE_OPS, INIT_RESERVED, beyond 42) still show up.
  assert.deepEqual(initFlagNames((1n << 2n) | (1n << 31n) | (1n << 63n)), ['BIT_2', 'BIT_31', 'BIT_63']);
});

test('other flag sets and numbers', () => {
  assert.equal(Fopen.PASSTHROUGH, 128);
  assert.equal(Fopen.PARALLEL_DIRECT_WRITES, 64);
  assert.equal(Fattr.KILL_SUIDGID, 0x800);
  assert.equal(Fattr.LOCKOWNER, 0x200);
  assert.equal(NotifyCode.PRUNE, 9);
  assert.equal(DevIoctl.BACKING_OPEN, 0x4010e501);
  assert.equal(DevIoctl.SYNC_INIT, 0xe503);
  assert.equal(UNIQUE_RESEND, 0x8000000000000000n);
  assert.equal(ROOT_ID, 1);
});

test('minReadBufferSize leaves a page beyond max_write', () => {
  assert.equal(minReadBufferSize(0), MIN_READ_BUFFER);
  assert.equal(minReadBufferSize(4096), MIN_READ_BUFFER);
  assert.equal(minReadBufferSize(128 * 1024), 128 * 1024 + 4096);
  assert.equal(minReadBufferSize(1024 * 1024), 1024 * 1024 + 4096);
  assert.ok(minReadBufferSize(1000) >= 80 + 1000);
  assert.throws(() => minReadBufferSize(-1), RangeError);
});
