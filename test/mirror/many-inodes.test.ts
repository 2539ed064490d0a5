import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror, describeRun, fdCount } from '../helpers/mount.js';

const LIMIT = 2000;

/** SRC/d0..d{dirs-1}, each with `files` empty files f0.. */
function makeTree(src: string, dirs: number, files: number): void {
  for (let d = 0; d < dirs; d++) {
    fs.mkdirSync(path.join(src, `d${d}`));
    for (let f = 0; f < files; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), '');
  }
}

test(`a tree with more entries than the server has descriptors (${LIMIT}) can be walked repeatedly`, { timeout: 90_000 }, async (t) => {
  await withMirror(async ({ mnt, proc }) => {
    let peak = 0;
    for (let pass = 0; pass < 2; pass++) {
      const r = await run('ls', ['-lR', mnt], { timeoutMs: 60_000, maxBuffer: 1 << 20 });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(!/Too many open files/.test(r.stderr), r.stderr.slice(0, 500));
      assert.equal((r.stdout.match(/^-rw/gm) ?? []).length, 6000, 'every file listed');
      peak = Math.max(peak, fdCount(proc.pid));
    }
    t.diagnostic(`server descriptors after the walks: ${peak} (limit ${LIMIT})`);
    assert.ok(peak < LIMIT);
  }, {
    spawn: { nofile: LIMIT },
    prepare: ({ src }) => makeTree(src, 12, 500),
  });
});

test('find over twenty times more entries than the server has descriptors: every name, with its type', { timeout: 120_000 }, async (t) => {
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
    spawn: { nofile: limit },
    prepare: ({ src }) => makeTree(src, 40, 500),
  });
});
