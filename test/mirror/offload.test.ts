/**
 * Source calls on the thread pool (`-o offload`): the choice by measured
 * latency, and a mirror over a slow source (a FUSE mount of this process whose
 * answers wait 5 ms) serving several clients at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SourceLatencies, SourceLatency } from '../../src/mirror/offload.js';
import { MirrorFilesystem } from '../../src/mirror/mirror.js';
import { withMirrorOverInProcessMount } from '../helpers/inprocess.js';
import { delayedFilesystem } from '../helpers/slow-source.js';
import { describeRun, run } from '../helpers/mount.js';
import { freshStats, type StatsJson } from '../helpers/stats.js';

test('SourceLatency: a kind goes to the pool once half of its last 16 calls were slow, and comes back at 3 or fewer', () => {
  const l = new SourceLatency('auto');
  for (let i = 0; i < 100; i++) l.record(0.01, false);
  assert.equal(l.slow, false);
  // One disk seek now and then among fast calls does not switch.
  for (let i = 0; i < 100; i++) l.record(i % 4 === 0 ? 5 : 0.01, false);
  assert.equal(l.slow, false, 'a quarter slow stays on the thread');
  for (let i = 0; i < 7; i++) l.record(1, false);
  const slowBefore = l.slow;
  l.record(1, false);
  assert.equal(l.slow, true, 'eight slow calls in a row switch');
  assert.equal(slowBefore || l.started === 1, true);
  // On the pool: fast answers (the hand-off included) bring it back, but not at once.
  for (let i = 0; i < 8; i++) l.record(0.03, true);
  assert.equal(l.slow, true, 'half slow still offloads');
  for (let i = 0; i < 8; i++) l.record(0.03, true);
  assert.equal(l.slow, false);
  assert.equal(l.pooledCalls, 16);
  assert.equal(l.started, 1);
});

test('SourceLatency: never and always do not look at the times', () => {
  const never = new SourceLatency('never');
  const always = new SourceLatency('always');
  for (let i = 0; i < 50; i++) {
    never.record(10, false);
    always.record(0.001, true);
  }
  assert.equal(never.slow, false);
  assert.equal(always.slow, true);
  assert.equal(never.started + always.started, 0);
});

test('SourceLatencies: a slow kind goes to the pool while another pool call is in flight (and for a moment after), else one call in 8', () => {
  const l = new SourceLatencies('auto');
  assert.equal(l.offload(l.lookup), false, 'not slow: never');
  for (let i = 0; i < 16; i++) l.lookup.record(2, false);
  const alone = Array.from({ length: 32 }, () => l.offload(l.lookup));
  assert.equal(alone.filter(Boolean).length, 4, 'a lone client: one probe in 8');
  l.started();
  assert.ok(Array.from({ length: 10 }, () => l.offload(l.lookup)).every(Boolean), 'with a call in flight: every one');
  assert.equal(l.offload(l.getattr), false, 'a kind that is not slow stays on the thread');
  l.finished();
  assert.equal(l.offload(l.lookup), true, 'company seen a moment ago: still the pool');
  const lone = new SourceLatencies('auto');
  for (let i = 0; i < 16; i++) lone.lookup.record(2, false);
  lone.started();
  lone.finished();
  assert.equal(lone.offload(lone.lookup), false, 'a call that found no other in flight made no company');
  assert.deepEqual(l.stats.slow, ['lookup']);
  assert.equal(new SourceLatencies('always').offload(new SourceLatency('always')), true);
});

const CLIENTS = 4;
const FILES = 40;
const DELAY_MS = 5;

/** Files c{k}/f{i}, each i+1 bytes long. */
function makeTree(dir: string): void {
  for (let c = 0; c < CLIENTS; c++) {
    fs.mkdirSync(path.join(dir, `c${c}`));
    for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(dir, `c${c}`, `f${i}`), Buffer.alloc(i + 1, 97));
  }
}

/** Each client, in a process of its own and all at once, stats its directory's files and lists it. */
async function clientsStatAndList(root: string): Promise<void> {
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, (_, c) => {
      const dir = path.join(root, `c${c}`);
      const files = Array.from({ length: FILES }, (_, i) => path.join(dir, `f${i}`));
      return run('/bin/sh', ['-c', 'stat -c %s "$@" && ls -f "$0" | wc -l', dir, ...files], { timeoutMs: 30_000 });
    }),
  );
  for (const r of results) {
    assert.equal(r.code, 0, describeRun(r));
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, FILES), Array.from({ length: FILES }, (_, i) => String(i + 1)));
    assert.equal(lines[FILES], String(FILES + 2), 'the listing has every file, . and ..');
  }
}

async function mirrorOverSlowSource(offload: string): Promise<StatsJson> {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-offload-'));
  makeTree(data);
  try {
    const slow = delayedFilesystem(new MirrorFilesystem(data, { offload: 'never', readdirplus: 'kernel' }), DELAY_MS);
    return await withMirrorOverInProcessMount(slow, ['-o', `offload=${offload}`], async ({ mnt, statsFile }) => {
      await clientsStatAndList(mnt);
      return await freshStats(statsFile, 'a snapshot after the clients');
    });
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
}

test('offload=auto over a slow source: lookups go to the pool and the clients\' requests overlap', { timeout: 90_000 }, async (t) => {
  const s = await mirrorOverSlowSource('auto');
  const o = s.offload;
  t.diagnostic(`offload ${JSON.stringify(o)}, requests ${JSON.stringify(s.requests)}, in flight at most ${s.inFlightMax}`);
  assert.ok(o);
  assert.equal(o.policy, 'auto');
  assert.ok(o.started >= 1, 'auto started offloading');
  assert.ok(o.slow.includes('lookup'), `lookups measure slow (${o.slow})`);
  assert.ok(o.calls > 0);
  assert.ok((s.inFlightMax ?? 0) >= 2, 'requests of different clients were in flight at once');
});

test('offload=never over a slow source: every call on the serving thread, one request at a time', { timeout: 90_000 }, async () => {
  const s = await mirrorOverSlowSource('never');
  const o = s.offload;
  assert.ok(o);
  assert.deepEqual([o.policy, o.slow, o.calls, o.started], ['never', [], 0, 0]);
  assert.ok((s.inFlightMax ?? 0) <= 1, `in flight at most ${s.inFlightMax}`);
});
