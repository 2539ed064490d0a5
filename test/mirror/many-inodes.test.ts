import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror, describeRun, fdCount } from '../helpers/mount.js';

const LIMIT = 2000;

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
    prepare: ({ src }) => {
      for (let d = 0; d < 12; d++) {
        fs.mkdirSync(path.join(src, `d${d}`));
        for (let f = 0; f < 500; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), '');
      }
    },
  });
});
