import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateInit, DEFAULT_WANT } from '../../src/session/negotiate.js';
import type { NegotiationWishes } from '../../src/session/negotiate.js';
import { InitFlag } from '../../src/abi/constants.js';

// What a Linux 6.18 kernel offered in INIT (flags | flags2 << 32), as observed on the target.
const OFFERED_6_18 = 0x73fffffbn | (0x5fdn << 32n);

const wishes = (o: Partial<NegotiationWishes> = {}): NegotiationWishes => ({
  want: 0n, refuse: 0n, maxWrite: 1 << 20, maxBackground: 64, maxStackDepth: 1, ...o,
});

test('7.45: defaults are granted, max_pages follows max_write, nothing unoffered is set', () => {
  const n = negotiateInit({ major: 7, minor: 45, maxReadahead: 131072, flags: OFFERED_6_18 }, wishes());
  assert.equal(n.kind, 'accept');
  if (n.kind !== 'accept') return;
  assert.equal(n.minor, 45);
  assert.equal(n.enabled, DEFAULT_WANT & OFFERED_6_18);
  assert.equal(n.enabled & ~OFFERED_6_18, 0n);
  assert.equal(n.reply.maxPages, 256);
  assert.equal(n.reply.maxWrite, 1 << 20);
  assert.equal(n.reply.maxReadahead, 131072);
  assert.equal(n.reply.congestionThreshold, 48);
  assert.equal(n.reply.maxStackDepth, 0, 'no stack depth without passthrough');
});

test('passthrough: granted with its stack depth, and writeback cache is dropped', () => {
  const n = negotiateInit(
    { major: 7, minor: 45, maxReadahead: 131072, flags: OFFERED_6_18 | InitFlag.WRITEBACK_CACHE },
    wishes({ want: InitFlag.PASSTHROUGH | InitFlag.WRITEBACK_CACHE, maxStackDepth: 2 }),
  );
  assert.equal(n.kind, 'accept');
  if (n.kind !== 'accept') return;
  assert.notEqual(n.enabled & InitFlag.PASSTHROUGH, 0n);
  assert.equal(n.enabled & InitFlag.WRITEBACK_CACHE, 0n);
  assert.equal(n.reply.maxStackDepth, 2);
});

test('7.31 kernel: flags newer than 7.31 are never enabled', () => {
  const n = negotiateInit({ major: 7, minor: 31, maxReadahead: 65536, flags: OFFERED_6_18 }, wishes({ want: InitFlag.PASSTHROUGH }));
  assert.equal(n.kind, 'accept');
  if (n.kind !== 'accept') return;
  assert.equal(n.minor, 31);
  for (const bit of [InitFlag.SETXATTR_EXT, InitFlag.INIT_EXT, InitFlag.PASSTHROUGH, InitFlag.DIRECT_IO_ALLOW_MMAP]) {
    assert.equal(n.enabled & bit, 0n);
  }
  assert.notEqual(n.enabled & InitFlag.MAX_PAGES, 0n);
});

test('a newer kernel minor is answered with ours; an older major or minor is refused; a newer major is asked to retry', () => {
  const newer = negotiateInit({ major: 7, minor: 99, maxReadahead: 0, flags: 0n }, wishes());
  assert.equal(newer.kind === 'accept' && newer.minor, 45);
  assert.equal(negotiateInit({ major: 7, minor: 30, maxReadahead: 0, flags: 0n }, wishes()).kind, 'refuse');
  assert.equal(negotiateInit({ major: 6, minor: 45, maxReadahead: 0, flags: 0n }, wishes()).kind, 'refuse');
  const retry = negotiateInit({ major: 8, minor: 0, maxReadahead: 0, flags: 0n }, wishes());
  assert.equal(retry.kind, 'retry');
  assert.equal(retry.kind === 'retry' && retry.reply.major, 7);
});

test('refused capabilities stay off even when offered and wanted', () => {
  const n = negotiateInit({ major: 7, minor: 45, maxReadahead: 131072, flags: OFFERED_6_18 }, wishes({ refuse: InitFlag.ASYNC_READ }));
  assert.equal(n.kind === 'accept' && n.enabled & InitFlag.ASYNC_READ, 0n);
});
