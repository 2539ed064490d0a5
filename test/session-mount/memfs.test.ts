import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFilesystem } from '../../examples/memfs.js';
import { withInProcessMount } from '../helpers/inprocess.js';
import { describeRun } from '../helpers/mount.js';
import { everydayScenario, sh } from '../helpers/scenario.js';


test('the in-memory example filesystem mounts and behaves like a filesystem', { timeout: 60_000 }, async () => {
  await withInProcessMount(new MemoryFilesystem(), async ({ mnt, m }) => {
    await everydayScenario(mnt);

    // The session counted what it answered.
    assert.ok((m.session.stats.requests.LOOKUP ?? 0) > 0);
    assert.ok((m.session.stats.requests.WRITE ?? 0) > 0);
  });
});

test('lookup references return to zero once the kernel forgets', { timeout: 60_000 }, async () => {
  const memfs = new MemoryFilesystem();
  await withInProcessMount(memfs, async ({ mnt, m }) => {
    const r = await sh(`cd ${mnt} && for i in $(seq 1 200); do echo $i > f$i; done && ls -l >/dev/null && cat f1 f200`);
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(m.session.knownNodes >= 200, `known ${m.session.knownNodes}`);
    // Drop the kernel's dentry and inode caches: every reference comes back as FORGET.
    const deadline = Date.now() + 10_000;
    while (m.session.knownNodes > 0 && Date.now() < deadline) {
      await sh('sync; echo 2 > /proc/sys/vm/drop_caches');
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(m.session.knownNodes, 0);
    assert.ok((m.session.stats.requests.FORGET ?? 0) + (m.session.stats.requests.BATCH_FORGET ?? 0) > 0);
  });
});
