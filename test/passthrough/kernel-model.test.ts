// The kernel model checked against the behaviour observed on Linux 6.18
// (reference/passthrough-semantics.md, section 0): the exhaustive arbiter test
// is only as good as this model.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Fopen } from '../../src/abi/constants.js';
import { KernelIoModel } from './kernel-model.js';
import type { OpenOutcome } from './kernel-model.js';

const PT = Fopen.PASSTHROUGH;
const DIO = Fopen.DIRECT_IO;

function ok(out: OpenOutcome): number {
  assert.equal(out.ok, true, out.ok ? '' : `unexpected EIO: ${out.cause}`);
  return (out as { file: number }).file;
}

function eio(out: OpenOutcome, cause: RegExp, fh: number): void {
  assert.equal(out.ok, false);
  if (out.ok) return;
  assert.equal(out.errno, 'EIO');
  assert.match(out.cause, cause);
  assert.deepEqual(out.release, { inode: 1, fh }, 'the kernel sends RELEASE for the failed handle');
}

test('backing ids: 1, 2, 3; close 0 is EINVAL, unknown is ENOENT', () => {
  const k = new KernelIoModel();
  assert.deepEqual([k.backingOpen(), k.backingOpen(), k.backingOpen()], [1, 2, 3]);
  assert.throws(() => k.backingClose(0), /EINVAL/);
  assert.throws(() => k.backingClose(9), /ENOENT/);
  k.backingClose(2);
  assert.throws(() => k.backingClose(2), /ENOENT/);
  assert.equal(k.backingOpen(), 4, 'ids are not reused');
  assert.deepEqual(k.registeredIds, [1, 3, 4]);
});

test('passthrough open with a valid id; with id 0, -5 or an unknown id: EIO', () => {
  const k = new KernelIoModel();
  const id = k.backingOpen();
  eio(k.open(1, 1, { openFlags: PT, backingId: 0 }), /EINVAL/, 1);
  eio(k.open(1, 2, { openFlags: PT, backingId: -5 }), /EINVAL/, 2);
  eio(k.open(1, 3, { openFlags: PT, backingId: 99 }), /ENOENT/, 3);
  const f = ok(k.open(1, 4, { openFlags: PT, backingId: id }));
  assert.equal(k.inode(1).backingId, id);
  assert.equal(k.inode(1).iocachectr, -1);
  assert.equal(k.file(f)!.iomode, 'uncached');
  k.checkInvariants();
});

test('second open of a passthrough inode: plain or DIRECT_IO is EIO, another id is EIO, same id is OK', () => {
  const k = new KernelIoModel();
  const id = k.backingOpen();
  const other = k.backingOpen();
  ok(k.open(1, 1, { openFlags: PT, backingId: id }));
  eio(k.open(1, 2, { openFlags: 0, backingId: 0 }), /EINVAL.*passthrough/, 2);
  eio(k.open(1, 3, { openFlags: DIO, backingId: 0 }), /EINVAL.*passthrough/, 3);
  eio(k.open(1, 4, { openFlags: PT, backingId: other }), /EBUSY/, 4);
  ok(k.open(1, 5, { openFlags: PT, backingId: id }));
  ok(k.open(1, 6, { openFlags: PT | DIO, backingId: id }));
  assert.equal(k.inode(1).iocachectr, -3);
  k.checkInvariants();
});

test('the same file registered twice is two backing objects', () => {
  const k = new KernelIoModel();
  const a = k.backingOpen();
  const b = k.backingOpen();
  ok(k.open(1, 1, { openFlags: PT, backingId: a }));
  eio(k.open(1, 2, { openFlags: PT, backingId: b }), /EBUSY/, 2);
});

test('flags allowed with passthrough: DIRECT_IO, NOFLUSH, PARALLEL_DIRECT_WRITES; others EIO', () => {
  for (const bad of [Fopen.KEEP_CACHE, Fopen.NONSEEKABLE, Fopen.STREAM, Fopen.CACHE_DIR]) {
    const k = new KernelIoModel();
    eio(k.open(1, 1, { openFlags: PT | bad, backingId: k.backingOpen() }), /EINVAL: flags/, 1);
    assert.equal(k.inode(1).iocachectr, 0);
  }
  const k = new KernelIoModel();
  ok(k.open(1, 1, { openFlags: PT | Fopen.NOFLUSH | Fopen.PARALLEL_DIRECT_WRITES | DIO, backingId: k.backingOpen() }));
});

test('passthrough open while a cached open exists: EIO, then OK once the cached file is closed', () => {
  const k = new KernelIoModel();
  const id = k.backingOpen();
  const cached = ok(k.open(1, 1, { openFlags: Fopen.KEEP_CACHE, backingId: 0 }));
  assert.equal(k.inode(1).iocachectr, 1);
  eio(k.open(1, 2, { openFlags: PT, backingId: id }), /ETXTBSY/, 2);
  assert.deepEqual(k.release(cached), { inode: 1, fh: 1 });
  ok(k.open(1, 3, { openFlags: PT, backingId: id }));
  k.checkInvariants();
});

test('a cached open of a passthrough inode is refused even after the backing id was closed', () => {
  const k = new KernelIoModel();
  const id = k.backingOpen();
  const f = ok(k.open(1, 1, { openFlags: PT, backingId: id }));
  k.backingClose(id); // allowed; the open file keeps its backing
  assert.equal(k.inode(1).backingId, id);
  eio(k.open(1, 2, { openFlags: 0, backingId: 0 }), /EINVAL/, 2);
  eio(k.open(1, 3, { openFlags: PT, backingId: id }), /ENOENT/, 3);
  eio(k.open(1, 4, { openFlags: PT, backingId: k.backingOpen() }), /EBUSY/, 4);
  k.release(f);
  assert.equal(k.inode(1).backingId, undefined, 'the inode drops the object with its last passthrough file');
  ok(k.open(1, 5, { openFlags: 0, backingId: 0 }));
});

test('DIRECT_IO open is neutral; its shared mmap makes the inode cached until it is released', () => {
  const k = new KernelIoModel();
  const id = k.backingOpen();
  const direct = ok(k.open(1, 1, { openFlags: DIO | Fopen.KEEP_CACHE, backingId: 0 }));
  assert.equal(k.inode(1).iocachectr, 0);
  assert.equal(k.mmapShared(direct), 'ok');
  assert.equal(k.inode(1).iocachectr, 1);
  assert.equal(k.mmapShared(direct), 'ok', 'a second mmap changes nothing');
  assert.equal(k.inode(1).iocachectr, 1);
  eio(k.open(1, 2, { openFlags: PT, backingId: id }), /ETXTBSY/, 2);
  k.release(direct);
  assert.equal(k.inode(1).iocachectr, 0);
  ok(k.open(1, 3, { openFlags: PT, backingId: id }));
  k.checkInvariants();
});

test('DIRECT_IO open, then passthrough open (OK), then shared mmap of the direct file: ENODEV', () => {
  const k = new KernelIoModel();
  const direct = ok(k.open(1, 1, { openFlags: DIO, backingId: 0 }));
  const pt = ok(k.open(1, 2, { openFlags: PT, backingId: k.backingOpen() }));
  assert.equal(k.mmapShared(direct), 'ENODEV');
  assert.equal(k.inode(1).iocachectr, -1);
  assert.equal(k.mmapShared(pt), 'ok', 'a passthrough file maps the backing file');
  const ptDirect = ok(k.open(1, 3, { openFlags: PT | DIO, backingId: k.inode(1).backingId! }));
  assert.equal(k.mmapShared(ptDirect), 'ok');
  assert.equal(k.inode(1).iocachectr, -2);
  k.checkInvariants();
});

test('release drops the counters at once and hands back the RELEASE for later delivery', () => {
  const k = new KernelIoModel();
  const id = k.backingOpen();
  const a = ok(k.open(1, 10, { openFlags: PT, backingId: id }));
  const b = ok(k.open(1, 11, { openFlags: PT | DIO, backingId: id }));
  assert.deepEqual(k.release(a), { inode: 1, fh: 10 });
  assert.equal(k.inode(1).iocachectr, -1);
  assert.deepEqual(k.release(b), { inode: 1, fh: 11 });
  assert.deepEqual(k.inode(1), { iocachectr: 0, backingId: undefined, backing: undefined });
  assert.equal(k.openFiles().length, 0);
  assert.deepEqual(k.registeredIds, [id], 'the id stays registered until the server closes it');
  assert.throws(() => k.release(a), /not open/);
});

test('PARALLEL_DIRECT_WRITES is dropped without DIRECT_IO; access mode does not matter', () => {
  const k = new KernelIoModel();
  const f = ok(k.open(1, 1, { openFlags: Fopen.PARALLEL_DIRECT_WRITES | Fopen.NOFLUSH, backingId: 0 }, 'read-only'));
  assert.equal(k.file(f)!.openFlags, Fopen.NOFLUSH);
  assert.equal(k.file(f)!.access, 'read-only');
  assert.equal(k.file(f)!.iomode, 'cached');
});
