import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, withMirror, describeRun } from '../helpers/mount.js';

const T = { timeout: 60_000 };

/** Runs a shell command as the unprivileged user nobody, who lacks CAP_FSETID. */
const asNobody = (cmd: string) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', cmd], { timeoutMs: 15_000 });

// The kernel leaves clearing set-ID bits to the mirror (HANDLE_KILLPRIV_V2); the
// mirror must do it exactly where the VFS would on the source.
for (const policy of ['auto', 'never']) {
  test(`set-ID bits are cleared on write, truncate and O_TRUNC by an unprivileged caller, as on the source (--passthrough ${policy})`, T, async () => {
    await withMirror(async ({ src, mnt }) => {
      const cases: [string, (f: string) => string][] = [
        ['append', (f) => `echo more >> ${f}`],
        ['truncate', (f) => `truncate -s 1 ${f}`],
        ['O_TRUNC', (f) => `echo new > ${f}`],
      ];
      for (const [name, cmd] of cases) {
        const native = path.join(src, `native-${name}`);
        const mirrored = `mirrored-${name}`;
        for (const f of [native, path.join(src, mirrored)]) {
          fs.writeFileSync(f, 'data\n');
          fs.chmodSync(f, 0o6777);
        }
        let r = await asNobody(cmd(native));
        assert.equal(r.code, 0, describeRun(r));
        r = await asNobody(cmd(path.join(mnt, mirrored)));
        assert.equal(r.code, 0, describeRun(r));
        const want = fs.statSync(native).mode & 0o7777;
        assert.equal(want, 0o777, `the source itself clears set-ID bits on ${name}`);
        assert.equal((await fs.promises.stat(path.join(src, mirrored))).mode & 0o7777, want, name);
      }
      // Root keeps them (CAP_FSETID), through the mirror as on the source.
      fs.writeFileSync(path.join(src, 'rootfile'), 'data\n');
      fs.chmodSync(path.join(src, 'rootfile'), 0o6755);
      await fs.promises.appendFile(path.join(mnt, 'rootfile'), 'more\n');
      assert.equal((await fs.promises.stat(path.join(src, 'rootfile'))).mode & 0o7777, 0o6755);
    }, { args: ['-o', 'allow_other', '--passthrough', policy], prepare: ({ root, src }) => {
      // nobody must be able to reach both trees.
      fs.chmodSync(root, 0o755);
      fs.chmodSync(src, 0o777);
    } });
  });
}
