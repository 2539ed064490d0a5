/**
 * The path-level examples on real mounts: hello, and the mirror with kernel
 * passthrough (served by its own process, as `fusekit mirror` is).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { helloFilesystem } from '../../examples/path-hello.js';
import { PathMemoryFilesystem } from '../../examples/path-memfs.js';
import { REPO_ROOT, describeRun, withMirror } from '../helpers/mount.js';
import { sh, withPathMount } from './helpers.js';

test('the hello example serves one read-only file', { timeout: 60_000 }, async () => {
  await withPathMount(helloFilesystem, {}, async ({ mnt }) => {
    const r = await sh(`cat ${mnt}/hello && ls -a ${mnt} && stat -c '%s %a %F' ${mnt}/hello; echo x > ${mnt}/hello 2>/dev/null || echo refused`);
    assert.equal(r.stdout, 'hello, world\n.\n..\nhello\n13 444 regular file\nrefused\n', describeRun(r));
  });
});

test('the in-memory example keeps the modes cp -a copies (it refuses ACL attributes it would not enforce)', { timeout: 60_000 }, async () => {
  const src = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'fusekit-memfs-cp-'));
  try {
    fs.mkdirSync(path.join(src, 'd'), { mode: 0o755 });
    fs.writeFileSync(path.join(src, 'd', 'f'), 'x', { mode: 0o644 });
    fs.chmodSync(path.join(src, 'd'), 0o755);
    fs.chmodSync(path.join(src, 'd', 'f'), 0o644);
    await withPathMount(new PathMemoryFilesystem(), {}, async ({ mnt }) => {
      const r = await sh(`cp -a ${src}/d ${mnt}/ && stat -c '%a %n' ${mnt}/d ${mnt}/d/f`);
      assert.equal(r.stdout, `755 ${mnt}/d\n644 ${mnt}/d/f\n`, describeRun(r));
    });
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
});

test('the path-level mirror mirrors a directory, with its data in passthrough', { timeout: 60_000 }, async () => {
  const program = path.join(REPO_ROOT, 'dist', 'examples', 'path-mirror.js');
  await withMirror(
    async ({ src, mnt, root, proc }) => {
      const r = await sh(
        `cd ${mnt} && cat a && mkdir d && echo two > d/b && mv d e && ln e/b e/c && stat -c %h e/b && ` +
          `dd if=/dev/zero of=big bs=1M count=8 2>/dev/null && cat big | wc -c && ls`,
      );
      assert.equal(r.stdout, 'one\n2\n8388608\na\nbig\ne\n', describeRun(r));
      assert.equal(fs.readFileSync(path.join(src, 'e', 'c'), 'utf8'), 'two\n');
      await proc.stop('SIGTERM');
      assert.equal(proc.exitInfo()?.code, 0);
      const stats = JSON.parse(fs.readFileSync(path.join(root, 'stats.json'), 'utf8')) as { passthrough: { opens: { passthrough: number } } };
      assert.ok(stats.passthrough.opens.passthrough >= 3, JSON.stringify(stats));
    },
    {
      prepare: ({ src }) => fs.writeFileSync(path.join(src, 'a'), 'one\n'),
      args: ({ root }) => ['--passthrough', 'always', '--stats-file', path.join(root, 'stats.json')],
      spawn: { program },
    },
  );
});

test('a hard-linked file stays reachable through its other names when the name first known is removed behind the mount', { timeout: 60_000 }, async () => {
  const program = path.join(REPO_ROOT, 'dist', 'examples', 'path-mirror.js');
  await withMirror(
    async ({ src, mnt }) => {
      assert.equal((await sh(`cat ${mnt}/a ${mnt}/b`)).stdout, 'old\nold\n');
      fs.unlinkSync(path.join(src, 'a'));
      fs.linkSync(path.join(src, 'b'), path.join(src, 'c'));
      // Past the 1 s timeouts: the kernel asks again, and the requests' paths must not use the removed name.
      await new Promise((r) => setTimeout(r, 1500));
      const r = await sh(`cat ${mnt}/b; cat ${mnt}/c; stat ${mnt}/a 2>&1 | grep -c 'No such file'; cat ${mnt}/b`);
      assert.equal(r.stdout, 'old\nold\n1\nold\n', describeRun(r));
    },
    { prepare: ({ src }) => { fs.writeFileSync(path.join(src, 'a'), 'old\n'); fs.linkSync(path.join(src, 'a'), path.join(src, 'b')); }, spawn: { program } },
  );
});
