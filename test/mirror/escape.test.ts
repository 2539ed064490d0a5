/**
 * Nothing the server does reaches outside SRC: names are resolved one
 * component at a time relative to held directory descriptors, with
 * O_NOFOLLOW, and symlinks go back to the kernel as symlinks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withMirror } from '../helpers/mount.js';

const T = { timeout: 60_000 };

test('symlinks to outside SRC are returned, never followed by the server', T, async () => {
  await withMirror(async ({ root, mnt }) => {
    const outside = path.join(root, 'outside');
    // The link's target as text comes from the server; following it is the kernel's walk from the caller's root.
    assert.equal(await fs.promises.readlink(path.join(mnt, 'abs')), outside);
    assert.equal(await fs.promises.readlink(path.join(mnt, 'rel')), '../../outside');
    assert.ok((await fs.promises.lstat(path.join(mnt, 'abs'))).isSymbolicLink());
  }, {
    prepare: ({ root, src }) => {
      fs.mkdirSync(path.join(root, 'outside'));
      fs.writeFileSync(path.join(root, 'outside', 'secret'), 'outside\n');
      fs.symlinkSync(path.join(root, 'outside'), path.join(src, 'abs'));
      fs.symlinkSync('../../outside', path.join(src, 'rel'));
    },
  });
});

test('a directory moved out of SRC behind the mirror is gone for new lookups', T, async () => {
  await withMirror(async ({ root, src, mnt }) => {
    assert.equal(await fs.promises.readFile(path.join(mnt, 'd', 'f'), 'utf8'), 'inside\n');
    fs.renameSync(path.join(src, 'd'), path.join(root, 'moved-out'));
    // entry_timeout=0: every path walk asks the server, which resolves "d" in SRC again.
    await assert.rejects(fs.promises.readFile(path.join(mnt, 'd', 'f'), 'utf8'), { code: 'ENOENT' });
    // A name made after the move resolves to the new object, not the moved one.
    fs.mkdirSync(path.join(src, 'd'));
    await assert.rejects(fs.promises.readFile(path.join(mnt, 'd', 'f'), 'utf8'), { code: 'ENOENT' });
  }, {
    args: ['-o', 'entry_timeout=0,attr_timeout=0'],
    prepare: ({ src }) => {
      fs.mkdirSync(path.join(src, 'd'));
      fs.writeFileSync(path.join(src, 'd', 'f'), 'inside\n');
    },
  });
});

test('the root\'s ".." is the kernel\'s business: MNT/.. is MNT\'s parent, not SRC\'s', T, async () => {
  await withMirror(async ({ mnt }) => {
    assert.equal(fs.realpathSync(path.join(mnt, '..')), path.dirname(mnt));
    const a = await fs.promises.stat(path.join(mnt, 'sub', '..', '..'));
    const b = await fs.promises.stat(path.dirname(mnt));
    assert.equal(a.ino, b.ino);
  }, { prepare: ({ src }) => fs.mkdirSync(path.join(src, 'sub')) });
});
