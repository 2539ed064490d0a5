import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { python, withMirror, describeRun } from '../helpers/mount.js';

const SCRIPT = `
import os, sys, ctypes
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]
fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o640)
os.write(fd, b"nameless\\n")
print(len(os.listdir(d)))
if libc.linkat(-100, f"/proc/self/fd/{fd}".encode(), -100, os.path.join(d, "linked").encode(), 0x400) != 0:
    raise OSError(ctypes.get_errno(), "linkat")
os.close(fd)
`;

for (const policy of ['auto', 'never']) {
  test(`O_TMPFILE creates a nameless file that linkat can name later (--passthrough ${policy})`, { timeout: 60_000 }, async () => {
    await withMirror(async ({ src, mnt }) => {
      const r = await python(SCRIPT, [mnt]);
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout.trim(), '0', 'the file had no name before linkat');
      assert.equal(fs.readFileSync(path.join(src, 'linked'), 'utf8'), 'nameless\n');
      assert.equal(fs.statSync(path.join(src, 'linked')).mode & 0o777, 0o640 & ~process.umask());
    }, { args: ['--passthrough', policy] });
  });
}
