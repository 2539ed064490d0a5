/**
 * File contents through the mirror: a real tree copied in with cp -a, a large
 * random file with odd-offset overwrites, appends and truncates, concurrent
 * reads, and changes made in SRC behind the mirror's back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeRun, dropCaches, pollUntil, run, sha256, withMirror } from '../helpers/mount.js';

const INCLUDE = '/usr/include/linux';

/** `find DIR` metadata listing: path, type, mode, owner, size, mtime (ns), link target. */
async function listing(dir: string, withDirSizes: boolean): Promise<string[]> {
  const r = await run('find', [dir, '-printf', '%P\\t%y\\t%m\\t%U\\t%G\\t%s\\t%T@\\t%l\\n'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, describeRun(r));
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const f = l.split('\t');
      if (!withDirSizes && f[1] === 'd') f[5] = '-';
      return f.join('\t');
    })
    .sort();
}

test('cp -a /usr/include/linux into MNT: diff -r clean against SRC and the original', { timeout: 180_000 }, async (t) => {
  if (!fs.existsSync(INCLUDE)) {
    t.skip(`${INCLUDE} not present`);
    return;
  }
  await withMirror(
    async ({ src, mnt }) => {
      const cp = await run('cp', ['-a', INCLUDE, path.join(mnt, 'linux')], { timeoutMs: 120_000 });
      assert.equal(cp.code, 0, describeRun(cp));

      const d1 = await run('diff', ['-r', '--no-dereference', path.join(mnt, 'linux'), path.join(src, 'linux')], { timeoutMs: 60_000 });
      assert.equal(d1.code, 0, `MNT vs SRC: ${describeRun(d1)}`);
      const d2 = await run('diff', ['-r', '--no-dereference', path.join(mnt, 'linux'), INCLUDE], { timeoutMs: 60_000 });
      assert.equal(d2.code, 0, `MNT vs original: ${describeRun(d2)}`);
      const d3 = await run('diff', ['-r', '--no-dereference', path.join(src, 'linux'), INCLUDE], { timeoutMs: 60_000 });
      assert.equal(d3.code, 0, `SRC vs original: ${describeRun(d3)}`);

      // cp -a preserved modes, owners and nanosecond mtimes in SRC...
      const orig = await listing(INCLUDE, false);
      const inSrc = await listing(path.join(src, 'linux'), false);
      assert.ok(orig.length > 100, `only ${orig.length} entries in ${INCLUDE}?`);
      assert.deepEqual(inSrc, orig, 'metadata in SRC differs from the original');
      // ...and MNT reports exactly SRC's metadata.
      const a = await listing(path.join(mnt, 'linux'), true);
      const b = await listing(path.join(src, 'linux'), true);
      assert.deepEqual(a, b, 'metadata through MNT differs from SRC');
    },
    { watchdogMs: 170_000 },
  );
});

test('32 MiB random file round-trips; odd-offset overwrite, append, truncate up and down', { timeout: 120_000 }, async () => {
  await withMirror(
    async ({ src, mnt }) => {
      const m = path.join(mnt, 'big.bin');
      const s = path.join(src, 'big.bin');
      let expect = randomBytes(32 * 1024 * 1024);

      const check = async (what: string): Promise<void> => {
        const want = sha256(expect);
        assert.equal((await fs.promises.stat(m)).size, expect.length, `${what}: size through MNT`);
        assert.equal(fs.statSync(s).size, expect.length, `${what}: size in SRC`);
        assert.equal(sha256(fs.readFileSync(s)), want, `${what}: SRC content`);
        assert.equal(sha256(await fs.promises.readFile(m)), want, `${what}: MNT content`);
      };

      await fs.promises.writeFile(m, expect);
      await check('after write');
      // Read again from the server, not from the page cache.
      await dropCaches(3);
      assert.equal(sha256(await fs.promises.readFile(m)), sha256(expect), 'after drop_caches: MNT content');

      // Partial overwrite at an odd offset, not page aligned, spanning pages.
      {
        const off = 1_000_003;
        const patch = randomBytes(12_345);
        const fh = await fs.promises.open(m, 'r+');
        try {
          const { bytesWritten } = await fh.write(patch, 0, patch.length, off);
          assert.equal(bytesWritten, patch.length);
        } finally {
          await fh.close();
        }
        patch.copy(expect, off);
        await check('after odd-offset overwrite');
      }
      // Overwrite that crosses EOF extends the file.
      {
        const patch = randomBytes(5000);
        const off = expect.length - 1234;
        const fh = await fs.promises.open(m, 'r+');
        try {
          await fh.write(patch, 0, patch.length, off);
        } finally {
          await fh.close();
        }
        const grown = Buffer.alloc(off + patch.length);
        expect.copy(grown, 0, 0, off);
        patch.copy(grown, off);
        expect = grown;
        await check('after overwrite across EOF');
      }
      // Append (O_APPEND).
      {
        const tail = randomBytes(777);
        await fs.promises.appendFile(m, tail);
        expect = Buffer.concat([expect, tail]);
        await check('after append');
      }
      // Truncate up (by path): zeros appear.
      {
        const n = 40 * 1024 * 1024 + 5;
        await fs.promises.truncate(m, n);
        const grown = Buffer.alloc(n);
        expect.copy(grown);
        expect = grown;
        await check('after truncate up');
      }
      // Truncate down (through an open handle).
      {
        const n = 3 * 1024 * 1024 + 7;
        const fh = await fs.promises.open(m, 'r+');
        try {
          await fh.truncate(n);
        } finally {
          await fh.close();
        }
        expect = expect.subarray(0, n);
        await check('after ftruncate down');
      }
      // Truncate to zero, then write a little again.
      {
        await fs.promises.truncate(m, 0);
        expect = Buffer.alloc(0);
        await check('after truncate to 0');
        const fh = await fs.promises.open(m, 'r+');
        try {
          await fh.write(Buffer.from('abc'), 0, 3, 4095);
        } finally {
          await fh.close();
        }
        expect = Buffer.concat([Buffer.alloc(4095), Buffer.from('abc')]);
        await check('after sparse write');
      }
      await dropCaches(3);
      await check('after final drop_caches');
    },
    { watchdogMs: 110_000 },
  );
});

test('64 concurrent reads of different files return the right content', { timeout: 60_000 }, async () => {
  const contents: Buffer[] = [];
  await withMirror(
    async ({ mnt }) => {
      const names = contents.map((_, i) => path.join(mnt, `f${i}`));
      const got = await Promise.all(names.map((n) => fs.promises.readFile(n)));
      for (const [i, g] of got.entries()) assert.ok(g.equals(contents[i] ?? Buffer.alloc(0)), `file f${i} content differs`);
      // Also truly parallel at the kernel level: 64 processes at once.
      const rs = await Promise.all(names.map((n) => run('sha256sum', [n], { timeoutMs: 30_000 })));
      rs.forEach((r, i) => {
        assert.equal(r.code, 0, describeRun(r));
        assert.equal(r.stdout.split(' ')[0], sha256(contents[i] ?? Buffer.alloc(0)), `f${i} via sha256sum`);
      });
    },
    {
      prepare: ({ src }) => {
        for (let i = 0; i < 64; i++) {
          const b = randomBytes(1 + ((i * 37_813) % (700 * 1024)));
          contents.push(b);
          fs.writeFileSync(path.join(src, `f${i}`), b);
        }
      },
    },
  );
});

test('changes made in SRC behind the mirror show through MNT', { timeout: 60_000 }, async () => {
  await withMirror(async ({ src, mnt }) => {
    // New file.
    fs.writeFileSync(path.join(src, 'new.txt'), 'first');
    assert.equal(await fs.promises.readFile(path.join(mnt, 'new.txt'), 'utf8'), 'first');
    // Changed content and size.
    fs.writeFileSync(path.join(src, 'new.txt'), 'second, longer');
    await pollUntil(async () => (await fs.promises.readFile(path.join(mnt, 'new.txt'), 'utf8')) === 'second, longer', {
      timeoutMs: 5000,
      what: 'changed SRC content through MNT',
    });
    // New directory with a file.
    fs.mkdirSync(path.join(src, 'sub'));
    fs.writeFileSync(path.join(src, 'sub', 'inner'), 'inner');
    await pollUntil(async () => (await fs.promises.readdir(mnt)).includes('sub'), { timeoutMs: 5000, what: 'sub in readdir(MNT)' });
    assert.equal(await fs.promises.readFile(path.join(mnt, 'sub', 'inner'), 'utf8'), 'inner');
    // chmod in SRC.
    fs.chmodSync(path.join(src, 'new.txt'), 0o600);
    await pollUntil(async () => ((await fs.promises.stat(path.join(mnt, 'new.txt'))).mode & 0o7777) === 0o600, {
      timeoutMs: 5000,
      what: 'chmod in SRC visible through MNT',
    });
    // Deletion.
    fs.unlinkSync(path.join(src, 'new.txt'));
    await pollUntil(
      async () => {
        try {
          await fs.promises.stat(path.join(mnt, 'new.txt'));
          return false;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code === 'ENOENT';
        }
      },
      { timeoutMs: 5000, what: 'ENOENT through MNT after unlink in SRC' },
    );
    assert.ok(!(await fs.promises.readdir(mnt)).includes('new.txt'));
  });
});

test('changes made through MNT show in SRC immediately', { timeout: 60_000 }, async () => {
  await withMirror(async ({ src, mnt }) => {
    await fs.promises.writeFile(path.join(mnt, 'a'), 'through mnt');
    assert.equal(fs.readFileSync(path.join(src, 'a'), 'utf8'), 'through mnt');
    const fh = await fs.promises.open(path.join(mnt, 'a'), 'r+');
    try {
      await fh.write('THROUGH', 0);
      await fh.sync();
      assert.equal(fs.readFileSync(path.join(src, 'a'), 'utf8'), 'THROUGH mnt');
    } finally {
      await fh.close();
    }
    assert.equal(fs.readFileSync(path.join(src, 'a'), 'utf8'), 'THROUGH mnt');
    await fs.promises.mkdir(path.join(mnt, 'd'));
    assert.ok(fs.statSync(path.join(src, 'd')).isDirectory());
  });
});
