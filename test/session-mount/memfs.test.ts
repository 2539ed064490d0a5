import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFilesystem } from '../../examples/memfs.js';
import { withInProcessMount } from '../helpers/inprocess.js';
import { run, describeRun } from '../helpers/mount.js';

const sh = (script: string) => run('sh', ['-c', script], { timeoutMs: 20_000 });

test('the in-memory example filesystem mounts and behaves like a filesystem', { timeout: 60_000 }, async () => {
  await withInProcessMount(new MemoryFilesystem(), async ({ mnt, m }) => {
    let r = await sh(`cd ${mnt} && mkdir -p a/b && echo hello > a/b/f && cat a/b/f && ls a`);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout, 'hello\nb\n');

    r = await sh(`cd ${mnt} && printf 0123456789 > g && printf XY | dd of=g bs=1 seek=3 conv=notrunc 2>/dev/null && cat g && stat -c %s g`);
    assert.equal(r.stdout, '012XY5678910\n', describeRun(r));

    r = await sh(`cd ${mnt} && mv g a/h && ln -s a/h link && readlink link && cat link && ln a/h hard && stat -c %h a/h`);
    assert.equal(r.stdout, 'a/h\n012XY567892\n', describeRun(r));

    r = await sh(`cd ${mnt} && rm hard link && rmdir a 2>&1; echo $?`);
    assert.match(r.stdout, /not empty/i);
    r = await sh(`cd ${mnt} && rm -r a && ls -A`);
    assert.equal(r.stdout, '', describeRun(r));

    r = await sh(`cd ${mnt} && truncate -s 5000 t && stat -c '%s %a' t && chmod 600 t && stat -c %a t && touch -d @1000000000 t && stat -c %Y t`);
    assert.equal(r.stdout, '5000 644\n600\n1000000000\n', describeRun(r));

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
