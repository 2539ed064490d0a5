/**
 * Which listing replies carry attributes (`-o readdirplus`): the evidence
 * rule on its own, then on real mounts, where a walk that never stats must
 * leave the files' inodes alone and one that stats everything must not pay a
 * LOOKUP per name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ListingAttributes } from '../../src/mirror/listing-attrs.js';
import { describeRun, dropCaches, run, withMirror } from '../helpers/mount.js';
import { argsWithStats, freshStats, req, type StatsJson } from '../helpers/stats.js';

/** `st_mode` of a regular file, for the rule's lookups. */
const FILE = 0o100644;
const DIRS = 10;
const FILES_PER_DIR = 40;
const FILES = DIRS * FILES_PER_DIR;

test('adaptive: names only until most recent lookups find new files; evidence lasts a second, renewed by replies with attributes', () => {
  const a = new ListingAttributes('adaptive');
  assert.equal(a.kernelDecides, false);
  assert.equal(a.forReply(0), false, 'no evidence at first');
  for (let i = 0; i < 7; i++) a.lookedUp(FILE, true, 10);
  assert.equal(a.forReply(10), false, '7 new files of 7 lookups is not yet 8');
  a.lookedUp(FILE, true, 20);
  assert.equal(a.forReply(20), true, '8 new files');
  assert.equal(a.forReply(900), true, 'still within a second of the last reply with attributes');
  assert.equal(a.forReply(1800), true, 'each reply with attributes keeps it alive');
  assert.equal(a.forReply(2801), false, 'more than a second without either: names only again');
  a.lookedUp(FILE, true, 3000);
  assert.equal(a.forReply(3000), true, 'one new file renews the evidence the window still holds');
  // Lookups of files the table holds push the new ones out of the window.
  for (let i = 0; i < 9; i++) a.lookedUp(FILE, false, 3100);
  assert.equal(a.forReply(3100), false, '7 new files among the last 16 lookups');
});

test('kernel: every READDIRPLUS reply carries attributes, and the kernel decides which replies are READDIRPLUS', () => {
  const k = new ListingAttributes('kernel');
  assert.equal(k.kernelDecides, true);
  assert.equal(k.forReply(0), true);
});

function makeTree(src: string): void {
  for (let d = 0; d < DIRS; d++) {
    const dir = path.join(src, `d${d}`);
    fs.mkdirSync(dir);
    for (let f = 0; f < FILES_PER_DIR; f++) fs.writeFileSync(path.join(dir, `f${f}`), 'x'.repeat(f));
  }
}

/** What `find -ls` would need, as lines sorted: relative path, type, mode, size, link count. */
async function walkWithStats(root: string): Promise<string[]> {
  const r = await run('find', [root, '-mindepth', '1', '-printf', '%P %y %m %s %n\\n'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, describeRun(r));
  return r.stdout.split('\n').filter((l) => l !== '').sort();
}

function delta(after: StatsJson, before: StatsJson): { lookups: number; readdir: number; withAttrs: number; namesOnly: number } {
  return {
    lookups: req(after, 'LOOKUP') - req(before, 'LOOKUP'),
    readdir: req(after, 'READDIR') - req(before, 'READDIR'),
    withAttrs: (after.listings?.withAttributes ?? 0) - (before.listings?.withAttributes ?? 0),
    namesOnly: (after.listings?.namesOnly ?? 0) - (before.listings?.namesOnly ?? 0),
  };
}

test('adaptive (default): a cold find opens no file; a cold find -ls gets attributes in its listings after the first directory', { timeout: 90_000 }, async (t) => {
  let stats = '';
  await withMirror(async ({ src, mnt }) => {
    await dropCaches(2);
    const s0 = await freshStats(stats, 'a snapshot before find');
    const find = await run('find', [mnt], { timeoutMs: 30_000 });
    assert.equal(find.code, 0, describeRun(find));
    assert.equal(find.stdout.split('\n').filter((l) => l !== '').length, 1 + DIRS + FILES);
    const s1 = await freshStats(stats, 'a snapshot after find');
    const plain = delta(s1, s0);
    t.diagnostic(`find over ${DIRS + FILES} entries: ${JSON.stringify(plain)}, inodes held ${s1.nodes}`);
    assert.equal(s1.listings?.policy, 'adaptive');
    assert.equal(plain.withAttrs, 0, 'nothing stats the names: no listing carries attributes');
    assert.ok(plain.namesOnly >= DIRS + 1, 'every directory was listed');
    assert.equal(plain.readdir, 0, 'READDIRPLUS_AUTO is not negotiated: the kernel sends READDIRPLUS only');
    assert.ok(plain.lookups <= DIRS, `only the directories find descends into are looked up (${plain.lookups})`);
    assert.ok((s1.nodes ?? Infinity) <= DIRS, `no file became an inode (${s1.nodes} held)`);

    // Walks that stat get the same answers as on the source, and stop paying a LOOKUP per name once seen to stat.
    await dropCaches(2);
    await new Promise((r) => setTimeout(r, 1100));
    const s2 = await freshStats(stats, 'a snapshot before find -printf');
    assert.deepEqual(await walkWithStats(mnt), await walkWithStats(src));
    const s3 = await freshStats(stats, 'a snapshot after find -printf');
    const stat = delta(s3, s2);
    t.diagnostic(`find -printf (stats every entry): ${JSON.stringify(stat)}`);
    assert.ok(stat.withAttrs >= DIRS - 2, `most directories were listed with attributes (${stat.withAttrs})`);
    assert.ok(stat.lookups < FILES / 2, `most names came with their attributes (${stat.lookups} LOOKUPs for ${FILES} files)`);
  }, { args: argsWithStats([], (f) => (stats = f)), prepare: ({ src }) => makeTree(src), watchdogMs: 80_000 });
});

test('-o readdirplus=kernel: the kernel\'s rule, every first reply with attributes', { timeout: 90_000 }, async (t) => {
  let stats = '';
  await withMirror(async ({ mnt }) => {
    await dropCaches(2);
    const s0 = await freshStats(stats, 'a snapshot before find');
    const find = await run('find', [mnt], { timeoutMs: 30_000 });
    assert.equal(find.code, 0, describeRun(find));
    const s1 = await freshStats(stats, 'a snapshot after find');
    const d = delta(s1, s0);
    t.diagnostic(`find: ${JSON.stringify(d)}, inodes held ${s1.nodes}`);
    assert.equal(s1.listings?.policy, 'kernel');
    assert.equal(d.namesOnly, 0);
    assert.ok(d.withAttrs >= DIRS + 1, 'each listing\'s first reply');
    assert.ok(d.readdir >= 1, 'READDIRPLUS_AUTO: the replies after the first are READDIR');
    assert.ok((s1.nodes ?? 0) >= DIRS + FILES, `every entry of a first reply became an inode (${s1.nodes})`);
  }, { args: argsWithStats(['-o', 'readdirplus=kernel'], (f) => (stats = f)), prepare: ({ src }) => makeTree(src), watchdogMs: 80_000 });
});
