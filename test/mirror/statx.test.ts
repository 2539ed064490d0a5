import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror, describeRun } from '../helpers/mount.js';

test('statx reports the source\'s birth time through the mirror', { timeout: 60_000 }, async () => {
  await withMirror(async ({ src, mnt }) => {
    const r = await run('stat', ['-c', '%W', path.join(src, 'f'), path.join(mnt, 'f')], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, describeRun(r));
    const [native, mirrored] = r.stdout.trim().split('\n');
    assert.ok(Number(native) > 0, `the source has a birth time (${native})`);
    assert.equal(mirrored, native);
  }, { prepare: ({ src }) => fs.writeFileSync(path.join(src, 'f'), 'x') });
});
