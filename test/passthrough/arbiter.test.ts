// Unit tests of IoModeArbiter: one test per rule of design.md "The arbiter, as a state machine".
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Fopen } from '../../src/abi/constants.js';
import { IoModeArbiter, PASSTHROUGH_FORBIDDEN_FLAGS } from '../../src/passthrough/arbiter.js';
import type { ArbiterDecision, IoMode } from '../../src/passthrough/arbiter.js';

const PT = Fopen.PASSTHROUGH;
const DIO = Fopen.DIRECT_IO;
const BAD_WITH_PT = Fopen.KEEP_CACHE | Fopen.NONSEEKABLE | Fopen.STREAM | Fopen.CACHE_DIR;

/** Opens `key` with `wish`, registering `register` when the arbiter asks for it. */
function open(a: IoModeArbiter<number, number>, key: number, wish: IoMode, register = 0): ArbiterDecision {
  const d = a.decide(key, wish);
  a.opened(key, d, d.backing === 'register' ? register : undefined);
  return d;
}

test('the passthrough-incompatible flags are exactly KEEP_CACHE, NONSEEKABLE, STREAM, CACHE_DIR', () => {
  assert.equal(PASSTHROUGH_FORBIDDEN_FLAGS, BAD_WITH_PT);
});

test('first passthrough wish of an inode registers a backing', () => {
  const a = new IoModeArbiter<number, number>();
  const d = a.decide(1, 'passthrough');
  assert.deepEqual(d, { mode: 'passthrough', openFlags: PT, forbiddenFlags: BAD_WITH_PT | DIO, backing: 'register', conflict: false });
  assert.equal('fallback' in d, false);
  a.opened(1, d, 7);
  assert.equal(a.backingOf(1), 7);
  assert.deepEqual(a.state(1), { cachedOpens: 0, directOpens: 0, passthroughOpens: 1, backing: 7 });
  assert.equal(a.trackedInodes, 1);
});

test('decide is a pure query', () => {
  const a = new IoModeArbiter<number, number>();
  for (const wish of ['cached', 'direct', 'passthrough'] as const) a.decide(1, wish);
  assert.equal(a.trackedInodes, 0);
  open(a, 1, 'cached');
  const before = a.state(1);
  for (const wish of ['cached', 'direct', 'passthrough'] as const) a.decide(1, wish);
  assert.deepEqual(a.state(1), before);
  assert.equal(a.trackedInodes, 1);
});

test('passthrough wish while the inode has passthrough opens reuses the backing', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'passthrough', 5);
  const d = a.decide(1, 'passthrough');
  assert.deepEqual(d, { mode: 'passthrough', openFlags: PT, forbiddenFlags: BAD_WITH_PT | DIO, backing: 'reuse', conflict: false });
  a.opened(1, d);
  a.opened(1, a.decide(1, 'passthrough'), 5); // naming the same backing is fine
  assert.equal(a.state(1).passthroughOpens, 3);
  assert.equal(a.backingOf(1), 5);
});

test('cached wish while the inode is in passthrough must answer passthrough (conflict)', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'passthrough', 5);
  const d = a.decide(1, 'cached');
  assert.deepEqual(d, { mode: 'passthrough', openFlags: PT, forbiddenFlags: BAD_WITH_PT | DIO, backing: 'reuse', conflict: true });
  a.opened(1, d);
  assert.deepEqual(a.state(1), { cachedOpens: 0, directOpens: 0, passthroughOpens: 2, backing: 5 });
});

test('direct wish while the inode is in passthrough answers PASSTHROUGH|DIRECT_IO (conflict)', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'passthrough', 5);
  const d = a.decide(1, 'direct');
  assert.deepEqual(d, { mode: 'passthrough', openFlags: PT | DIO, forbiddenFlags: BAD_WITH_PT, backing: 'reuse', conflict: true });
  assert.equal(d.fallback, undefined, 'fallback is only for passthrough wishes');
});

test('passthrough wish while the inode has cached opens falls back to cached', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'cached');
  const d = a.decide(1, 'passthrough');
  assert.deepEqual(d, { mode: 'cached', openFlags: 0, forbiddenFlags: PT | DIO, backing: 'none', conflict: true, fallback: 'cached-opens' });
  a.opened(1, d);
  assert.deepEqual(a.state(1), { cachedOpens: 2, directOpens: 0, passthroughOpens: 0, backing: undefined });
});

test('passthrough wish while the inode has direct opens falls back to direct', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'direct');
  const d = a.decide(1, 'passthrough');
  assert.deepEqual(d, { mode: 'direct', openFlags: DIO, forbiddenFlags: PT, backing: 'none', conflict: true, fallback: 'direct-opens' });
  a.opened(1, d);
  assert.deepEqual(a.state(1), { cachedOpens: 0, directOpens: 2, passthroughOpens: 0, backing: undefined });
});

test('cached opens are named as the reason when both cached and direct opens exist', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'direct');
  open(a, 1, 'cached');
  assert.equal(a.decide(1, 'passthrough').fallback, 'cached-opens');
});

test('fallback modes can be chosen', () => {
  const a = new IoModeArbiter<number, number>({ fallbackOnCachedOpens: 'direct', fallbackOnDirectOpens: 'cached' });
  open(a, 1, 'cached');
  open(a, 2, 'direct');
  assert.deepEqual(a.decide(1, 'passthrough'), { mode: 'direct', openFlags: DIO, forbiddenFlags: PT, backing: 'none', conflict: true, fallback: 'cached-opens' });
  assert.deepEqual(a.decide(2, 'passthrough'), { mode: 'cached', openFlags: 0, forbiddenFlags: PT | DIO, backing: 'none', conflict: true, fallback: 'direct-opens' });
});

test('cached and direct wishes outside passthrough are granted as asked', () => {
  const a = new IoModeArbiter<number, number>();
  assert.deepEqual(a.decide(1, 'cached'), { mode: 'cached', openFlags: 0, forbiddenFlags: PT | DIO, backing: 'none', conflict: false });
  assert.deepEqual(a.decide(1, 'direct'), { mode: 'direct', openFlags: DIO, forbiddenFlags: PT, backing: 'none', conflict: false });
  open(a, 1, 'cached');
  open(a, 1, 'direct');
  assert.equal(a.decide(1, 'cached').mode, 'cached');
  assert.equal(a.decide(1, 'direct').mode, 'direct');
  assert.equal(a.decide(1, 'direct').conflict, false);
});

test('every decision fixes the mode bits whatever flags the caller had', () => {
  const a = new IoModeArbiter<number, number>();
  const decisions: ArbiterDecision[] = [];
  for (const wish of ['cached', 'direct', 'passthrough'] as const) decisions.push(a.decide(1, wish));
  open(a, 2, 'passthrough', 1);
  for (const wish of ['cached', 'direct', 'passthrough'] as const) decisions.push(a.decide(2, wish));
  open(a, 3, 'cached');
  open(a, 4, 'direct');
  decisions.push(a.decide(3, 'passthrough'), a.decide(4, 'passthrough'));
  for (const d of decisions) {
    for (let caller = 0; caller < 256; caller++) {
      const reply = (caller & ~d.forbiddenFlags) | d.openFlags;
      const replyMode: IoMode = reply & PT ? 'passthrough' : reply & DIO ? 'direct' : 'cached';
      assert.equal(replyMode, d.mode);
      assert.equal(reply & (PT | DIO), d.openFlags);
      if (d.mode === 'passthrough') assert.equal(reply & BAD_WITH_PT, 0);
      // Harmless flags stay the caller's.
      assert.equal(reply & (Fopen.NOFLUSH | Fopen.PARALLEL_DIRECT_WRITES), caller & (Fopen.NOFLUSH | Fopen.PARALLEL_DIRECT_WRITES));
      if (d.mode !== 'passthrough') assert.equal(reply & BAD_WITH_PT, caller & BAD_WITH_PT);
    }
  }
});

test('released returns the backing only with the last passthrough open', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'passthrough', 9);
  open(a, 1, 'cached'); // forced to passthrough
  open(a, 1, 'direct'); // forced to passthrough|direct
  assert.equal(a.state(1).passthroughOpens, 3);
  assert.equal(a.released(1, 'passthrough'), undefined);
  assert.equal(a.released(1, 'passthrough'), undefined);
  assert.equal(a.backingOf(1), 9);
  assert.equal(a.released(1, 'passthrough'), 9);
  assert.equal(a.backingOf(1), undefined);
  assert.equal(a.trackedInodes, 0);
  // The next passthrough wish registers a fresh backing.
  assert.equal(a.decide(1, 'passthrough').backing, 'register');
});

test('after the last passthrough release other modes are possible again', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'passthrough', 9);
  assert.equal(a.decide(1, 'cached').mode, 'passthrough');
  assert.equal(a.released(1, 'passthrough'), 9);
  assert.equal(a.decide(1, 'cached').mode, 'cached');
  assert.equal(a.decide(1, 'direct').mode, 'direct');
});

test('cached and direct releases return nothing and untrack the inode at zero', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'cached');
  open(a, 1, 'direct');
  assert.equal(a.released(1, 'cached'), undefined);
  assert.equal(a.trackedInodes, 1);
  assert.equal(a.decide(1, 'passthrough').fallback, 'direct-opens');
  assert.equal(a.released(1, 'direct'), undefined);
  assert.equal(a.trackedInodes, 0);
  assert.equal(a.decide(1, 'passthrough').backing, 'register');
});

test('a release that was never recorded throws', () => {
  const a = new IoModeArbiter<number, number>();
  assert.throws(() => a.released(1, 'cached'), /never recorded/);
  open(a, 1, 'cached');
  assert.throws(() => a.released(1, 'passthrough'), /never recorded/);
  assert.throws(() => a.released(1, 'direct'), /never recorded/);
  assert.deepEqual(a.state(1), { cachedOpens: 1, directOpens: 0, passthroughOpens: 0, backing: undefined });
});

test('opened refuses decisions that no longer fit the inode', () => {
  const a = new IoModeArbiter<number, number>();
  const register = a.decide(1, 'passthrough');
  assert.throws(() => a.opened(1, register), /registered backing is required/);
  assert.equal(a.trackedInodes, 0);
  a.opened(1, register, 3);
  assert.throws(() => a.opened(1, register, 4), /already has a backing/);
  assert.throws(() => a.opened(1, a.decide(1, 'passthrough'), 4), /another backing/);
  const cachedEarlier = a.decide(2, 'cached');
  assert.throws(() => a.opened(1, cachedEarlier), /in passthrough/);
  assert.equal(a.released(1, 'passthrough'), 3);
  const reuse = { mode: 'passthrough', openFlags: PT, forbiddenFlags: BAD_WITH_PT, backing: 'reuse', conflict: false } as const;
  assert.throws(() => a.opened(1, reuse), /no backing to reuse/);
  open(a, 1, 'direct');
  assert.throws(() => a.opened(1, register, 5), /cached or direct opens/);
  assert.throws(() => a.opened(1, { ...register, backing: 'none' }), /cached or direct opens/);
  assert.throws(() => a.opened(2, { ...register, backing: 'none' }), /needs a backing/);
  assert.throws(() => a.opened(2, { ...cachedEarlier, backing: 'reuse' }), /only passthrough/);
  assert.equal(a.trackedInodes, 1);
  assert.deepEqual(a.state(1), { cachedOpens: 0, directOpens: 1, passthroughOpens: 0, backing: undefined });
});

test('inodes are independent', () => {
  const a = new IoModeArbiter<string, number>();
  const d1 = a.decide('a', 'passthrough');
  a.opened('a', d1, 1);
  a.opened('b', a.decide('b', 'cached'));
  assert.equal(a.decide('b', 'passthrough').fallback, 'cached-opens');
  assert.equal(a.decide('c', 'passthrough').backing, 'register');
  a.opened('c', a.decide('c', 'passthrough'), 2);
  assert.equal(a.backingOf('a'), 1);
  assert.equal(a.backingOf('c'), 2);
  assert.equal(a.trackedInodes, 3);
  assert.equal(a.released('a', 'passthrough'), 1);
  assert.equal(a.backingOf('c'), 2);
  assert.equal(a.trackedInodes, 2);
});

test('state returns a copy', () => {
  const a = new IoModeArbiter<number, number>();
  open(a, 1, 'cached');
  const s = a.state(1);
  s.cachedOpens = 40;
  assert.equal(a.state(1).cachedOpens, 1);
});
