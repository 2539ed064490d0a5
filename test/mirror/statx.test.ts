import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror, describeRun, dropCaches } from '../helpers/mount.js';
import { argsWithStats, freshStats, req } from '../helpers/stats.js';

const FILES = 200;

function makeFiles(src: string): void {
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(src, `f${i}`), 'x');
}

/** Cold `fs.statSync` of every file (caches dropped first); the birth times seen through the mirror. */
async function statColdThroughMirror(mnt: string): Promise<number[]> {
  await dropCaches(2);
  const births: number[] = [];
  for (let i = 0; i < FILES; i++) births.push(fs.statSync(path.join(mnt, `f${i}`)).birthtimeMs);
  return births;
}

test('-o statx: the source\'s birth time through the mirror, at one STATX per cold fs.stat', { timeout: 60_000 }, async (t) => {
  let stats = '';
  await withMirror(async ({ src, mnt }) => {
    const r = await run('stat', ['-c', '%W', path.join(src, 'f0'), path.join(mnt, 'f0')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    const [native, mirrored] = r.stdout.trim().split('\n');
    assert.ok(Number(native) > 0, `the source has a birth time (${native})`);
    assert.equal(mirrored, native);

    const before = await freshStats(stats, 'a snapshot before the stats');
    const births = await statColdThroughMirror(mnt);
    assert.equal(births[7], fs.statSync(path.join(src, 'f7')).birthtimeMs);
    const after = await freshStats(stats, 'a snapshot after the stats');
    const lookups = req(after, 'LOOKUP') - req(before, 'LOOKUP');
    const statxs = req(after, 'STATX') - req(before, 'STATX');
    t.diagnostic(`${FILES} cold fs.stat: LOOKUP ${lookups}, STATX ${statxs}, GETATTR ${req(after, 'GETATTR') - req(before, 'GETATTR')}`);
    assert.equal(statxs, FILES, 'the kernel asks for the birth time of each inode once');
  }, { args: argsWithStats(['-o', 'exclusive,statx'], (f) => (stats = f)), prepare: ({ src }) => makeFiles(src) });
});

test('by default a cold fs.stat is one round trip (LOOKUP) and reports no birth time', { timeout: 60_000 }, async (t) => {
  let stats = '';
  await withMirror(async ({ mnt }) => {
    const before = await freshStats(stats, 'a snapshot before the stats');
    const births = await statColdThroughMirror(mnt);
    const after = await freshStats(stats, 'a snapshot after the stats');
    const lookups = req(after, 'LOOKUP') - req(before, 'LOOKUP');
    const others = ['STATX', 'GETATTR'].map((op) => req(after, op) - req(before, op));
    t.diagnostic(`${FILES} cold fs.stat: LOOKUP ${lookups}, STATX ${others[0]}, GETATTR ${others[1]}`);
    assert.equal(lookups, FILES);
    // The first STATX is declined (ENOSYS); the kernel then never sends another.
    assert.ok(others[0]! <= 1, `STATX ${others[0]}`);
    assert.equal(others[1], 0);
    assert.deepEqual(new Set(births), new Set([0]), 'a birth time is reported that the mirror never gave');
    const r = await run('stat', ['-c', '%W', path.join(mnt, 'f0')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), '0');
  }, { args: argsWithStats(['-o', 'exclusive'], (f) => (stats = f)), prepare: ({ src }) => makeFiles(src) });
});
