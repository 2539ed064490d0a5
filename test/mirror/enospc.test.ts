import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { run, withMirror, describeRun } from '../helpers/mount.js';
import { mountTmpfs } from '../passthrough-mount/common.js';

const T = { timeout: 60_000 };

for (const policy of ['auto', 'never']) {
  test(`a full source gives the writer ENOSPC and loses nothing already written (--passthrough ${policy})`, T, async () => {
    const kept = crypto.randomBytes(1 << 20);
    await withMirror(async ({ src, mnt }) => {
      await fs.promises.writeFile(path.join(mnt, 'kept'), kept);
      const r = await run('dd', ['if=/dev/zero', `of=${path.join(mnt, 'filler')}`, 'bs=1M', 'count=32', 'conv=fsync'], { timeoutMs: 30_000 });
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /No space left on device/, describeRun(r));
      assert.ok(!/Input\/output error/.test(r.stderr), describeRun(r));
      assert.deepEqual(await fs.promises.readFile(path.join(mnt, 'kept')), kept);
      assert.deepEqual(fs.readFileSync(path.join(src, 'kept')), kept);
      // Space comes back when the filler goes.
      await fs.promises.unlink(path.join(mnt, 'filler'));
      await fs.promises.writeFile(path.join(mnt, 'after'), 'room again\n');
      assert.equal(fs.readFileSync(path.join(src, 'after'), 'utf8'), 'room again\n');
    }, { args: ['--passthrough', policy], prepare: ({ src }) => mountTmpfs(src, '8m') });
  });
}
