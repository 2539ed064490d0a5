import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
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

// Clients keep the server busy, so it seldom finds a moment between requests:
// the space of a file removed through the mount must still be back before the
// next request (an unlink, or a rename over it; with passthrough the file's
// released backing id held it open too).
const BUSY = `const fs = require('node:fs'); const d = process.argv[1]; let i = Math.floor(Math.random() * 1e9);
for (;;) { try { fs.statSync(d + '/n' + i++); } catch {} }`;
const ROUNDS = `cd "$1"; failed=0
for i in $(seq 12); do
  if [ $((i % 2)) = 0 ]; then
    echo small > small; dd if=/dev/zero of=filler bs=1M count=32 conv=fsync 2>/dev/null; mv small filler; rm filler
  else
    dd if=/dev/zero of=filler bs=1M count=32 conv=fsync 2>/dev/null; rm filler
  fi
  echo "room again $i" > after 2>/dev/null || { failed=$((failed + 1)); how="$how $((i % 2))"; }
  rm -f after
done
echo "$failed of 12 rounds got ENOSPC after the filler went (by rename 0, by unlink 1:$how)"`;

for (const policy of ['auto', 'never']) {
  test(`a file removed through MNT frees its space before the next request, while other clients keep the server busy (--passthrough ${policy})`, T, async () => {
    await withMirror(async ({ mnt }) => {
      const busy = path.join(mnt, 'busy');
      fs.mkdirSync(busy);
      const clients = [1, 2, 3, 4].map(() => spawn(process.execPath, ['-e', BUSY, busy], { stdio: 'ignore' }));
      try {
        const r = await run('bash', ['-c', ROUNDS, 'rounds', mnt], { timeoutMs: 45_000 });
        assert.equal(r.code, 0, describeRun(r));
        assert.match(r.stdout, /^0 of 12 rounds/, describeRun(r));
      } finally {
        for (const c of clients) c.kill('SIGKILL');
        await Promise.all(clients.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
      }
    }, { args: ['--passthrough', policy], prepare: ({ src }) => mountTmpfs(src, '8m') });
  });
}

// The kernel may forget an unlinked file's inode well after the UNLINK (a
// FORGET came after the writer's next CREATE and its write); here a process
// holding an O_PATH descriptor of it keeps the kernel's inode, and the FORGET,
// away for as long as it likes. Nothing is open through the mount, so the
// file is gone: its space must be back at once, and fstat through the O_PATH
// descriptor still answers, with no link left.
const HOLD_O_PATH = `import os, sys
fd = os.open(sys.argv[1], os.O_PATH | os.O_NOFOLLOW)
print('held', flush=True)
sys.stdin.readline()
st = os.fstat(fd)
print(st.st_nlink, st.st_size, flush=True)`;

for (const [how, drop] of [['by file handle', []], ['by descriptor', ['dac_read_search']]] as const) test(`${how}: a file unlinked through MNT frees its space at once, though the kernel still holds its inode`, T, async () => {
  await withMirror(async ({ src, mnt }) => {
    const big = path.join(mnt, 'big');
    await fs.promises.writeFile(big, Buffer.alloc(5 << 20, 1));
    const holder = spawn('python3', ['-c', HOLD_O_PATH, big], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout.on('data', (d) => (out += d));
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('held') && Date.now() < deadline && holder.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      assert.ok(out.includes('held'), `the holder did not start: ${out}`);
      await fs.promises.unlink(big);
      const free = fs.statfsSync(src);
      assert.ok(free.bavail * free.bsize >= 7 << 20, `${free.bavail * free.bsize} bytes free in an 8 MiB source after removing 5 MiB`);
      await fs.promises.writeFile(path.join(mnt, 'next'), Buffer.alloc(5 << 20, 2));
      holder.stdin.end('go\n');
      await once(holder, 'exit');
      assert.equal(out.split('\n')[1], `0 ${5 << 20}`, 'fstat through the O_PATH descriptor');
    } finally {
      if (holder.exitCode === null) holder.kill('SIGKILL');
    }
  }, { spawn: { dropCapabilities: [...drop] }, prepare: ({ src }) => mountTmpfs(src, '8m') });
});
