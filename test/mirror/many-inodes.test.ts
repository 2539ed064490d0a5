import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror, describeRun, fdCount, havePython, python } from '../helpers/mount.js';
import { argsWithStats, freshStats } from '../helpers/stats.js';

const LIMIT = 2000;

/** SRC/d0..d{dirs-1}, each with `files` empty files f0.. */
function makeTree(src: string, dirs: number, files: number): void {
  for (let d = 0; d < dirs; d++) {
    fs.mkdirSync(path.join(src, `d${d}`));
    for (let f = 0; f < files; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), '');
  }
}

// Each test runs as root does by default (inodes held by file handle) and
// without CAP_DAC_READ_SEARCH (one descriptor per inode, pruned near the limit).
const MODES = [
  { name: 'by file handle', drop: [] as string[] },
  { name: 'by descriptor (no CAP_DAC_READ_SEARCH)', drop: ['dac_read_search'] },
];

for (const mode of MODES) {
  test(`${mode.name}: a tree with more entries than the server has descriptors (${LIMIT}) can be walked repeatedly`, { timeout: 90_000 }, async (t) => {
    let stats = '';
    await withMirror(async ({ mnt, proc }) => {
      let peak = 0;
      for (let pass = 0; pass < 2; pass++) {
        const r = await run('ls', ['-lR', mnt], { timeoutMs: 60_000, maxBuffer: 1 << 20 });
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(!/Too many open files/.test(r.stderr), r.stderr.slice(0, 500));
        assert.equal((r.stdout.match(/^-rw/gm) ?? []).length, 6000, 'every file listed');
        peak = Math.max(peak, fdCount(proc.pid));
      }
      const snapshot = await freshStats(stats, 'a snapshot after the walks');
      const nodes = snapshot.nodes ?? 0;
      const d = snapshot.descriptors;
      t.diagnostic(`server descriptors after the walks: ${peak} (limit ${LIMIT}); inodes the kernel holds: ${nodes}; descriptors section: ${JSON.stringify(d)}`);
      assert.ok(peak < LIMIT);
      assert.ok(d && d.room !== null && d.room < LIMIT && d.held <= d.room, 'the stats file shows what is held against the share of the limit');
      assert.equal(d.outOfDescriptors.failed, 0);
      // By handle nothing is pruned: the kernel keeps every inode it looked up.
      if (mode.drop.length === 0) {
        assert.ok(nodes >= 6000, `only ${nodes} inodes kept`);
        assert.equal(d.heldBy, 'handle');
        assert.equal(d.prunes, 0);
      } else {
        assert.ok(nodes < LIMIT, `${nodes} inodes held by descriptor`);
        assert.equal(d.heldBy, 'descriptor');
        assert.ok(d.prunes > 0, 'the kernel was asked to prune');
      }
    }, {
      spawn: { nofile: LIMIT, dropCapabilities: mode.drop },
      args: argsWithStats([], (f) => (stats = f)),
      prepare: ({ src }) => makeTree(src, 12, 500),
    });
  });

  // Node holds about 25 descriptors of its own: the mirror plans with the rest,
  // and a lookup or listing that finds none left waits for the FORGETs of the
  // prune it asked for instead of failing.
  test(`${mode.name}: under a limit of 60 descriptors, nearly half of them Node's own, a walk gets no EMFILE`, { timeout: 90_000 }, async (t) => {
    const limit = 60;
    let stats = '';
    await withMirror(async ({ mnt, proc }) => {
      for (let pass = 0; pass < 3; pass++) {
        const r = await run('ls', ['-lR', mnt], { timeoutMs: 60_000, maxBuffer: 1 << 20 });
        assert.equal(r.code, 0, describeRun(r));
        assert.equal((r.stdout.match(/^-rw/gm) ?? []).length, 1200, 'every file listed');
      }
      assert.ok(fdCount(proc.pid) < limit);
      const d = (await freshStats(stats, 'a snapshot after the walks')).descriptors;
      t.diagnostic(`descriptors section: ${JSON.stringify(d)}`);
      assert.equal(d?.outOfDescriptors.failed, 0);
    }, {
      args: argsWithStats([], (f) => (stats = f)),
      spawn: { nofile: limit, dropCapabilities: mode.drop },
      prepare: ({ src }) => makeTree(src, 12, 100),
    });
  });

  test(`${mode.name}: find over twenty times more entries than the server has descriptors: every name, with its type`, { timeout: 120_000 }, async (t) => {
    const limit = 1000;
    await withMirror(async ({ mnt, proc }) => {
      for (let pass = 0; pass < 2; pass++) {
        const all = await run('find', [mnt], { timeoutMs: 60_000, maxBuffer: 8 << 20 });
        assert.equal(all.code, 0, describeRun(all));
        assert.equal(all.stdout.split('\n').filter(Boolean).length, 1 + 40 + 40 * 500, 'every entry listed');
        // Names handed out without an inode keep their type, so find needs no lookup to tell files from directories.
        const files = await run('find', [mnt, '-type', 'f'], { timeoutMs: 60_000, maxBuffer: 8 << 20 });
        assert.equal(files.code, 0, describeRun(files));
        assert.equal(files.stdout.split('\n').filter(Boolean).length, 40 * 500);
      }
      const fds = fdCount(proc.pid);
      t.diagnostic(`server descriptors after the walks: ${fds} (limit ${limit})`);
      assert.ok(fds < limit);
    }, {
      spawn: { nofile: limit, dropCapabilities: mode.drop },
      prepare: ({ src }) => makeTree(src, 40, 500),
    });
  });
}

// By descriptor, a process holding O_PATH descriptors of MNT's files pins
// their inodes in the kernel, so the server runs out of descriptors and
// pruning frees none. Once the process lets go, the inodes could be pruned,
// but a lookup that finds no descriptor left adds no inode, and only new
// inodes used to ask for a prune: every later lookup failed with EMFILE.
const PIN_THEN_STAT = `import os, sys, time
d = sys.argv[1]
held = []
for i in range(140):
    try: held.append(os.open(f'{d}/d{i // 100}/f{i % 100}', os.O_PATH | os.O_NOFOLLOW))
    except OSError: pass
for fd in held: os.close(fd)
time.sleep(0.2)
res = ''
for i in range(30):
    try: os.stat(f'{d}/d2/f{i}'); res += '.'
    except OSError: res += 'E'
print(len(held), res)`;

test('by descriptor: once pinned inodes are let go, lookups that found no descriptor left bring pruning back', { timeout: 60_000 }, async (t) => {
  if (!(await havePython())) {
    t.skip('python3 not available');
    return;
  }
  await withMirror(async ({ mnt }) => {
    const r = await python(PIN_THEN_STAT, [mnt], 30_000);
    assert.equal(r.code, 0, describeRun(r));
    const [held, stats] = r.stdout.trim().split(' ');
    t.diagnostic(`O_PATH descriptors held at once: ${held}; stats after (. ok, E failed): ${stats}`);
    assert.ok(Number(held) < 140, 'the server ran out of descriptors, as the test needs');
    assert.equal(stats, '.'.repeat(30), 'lookups work again');
  }, {
    spawn: { nofile: 150, dropCapabilities: ['dac_read_search'] },
    prepare: ({ src }) => makeTree(src, 3, 100),
  });
});
