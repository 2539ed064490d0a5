/**
 * The everyday-use scenario every example filesystem must pass through its
 * mount: directories, writes at an offset, rename, symlink, hard link, rmdir
 * of a non-empty directory, rm -r, truncate, chmod and times, all through the
 * shell as a user would. Shared by the inode-level and path-level examples.
 */
import assert from 'node:assert/strict';
import { describeRun, run, type RunResult } from './mount.js';

/** Runs `script` with sh -c (20 s limit by default). */
export function sh(script: string, timeoutMs = 20_000): Promise<RunResult> {
  return run('sh', ['-c', script], { timeoutMs });
}

/** The scenario at `mnt`; assertions name the step that failed. */
export async function everydayScenario(mnt: string): Promise<void> {
  let r = await sh(`cd ${mnt} && mkdir -p a/b && echo hello > a/b/f && cat a/b/f && ls a && ls -a a/b`);
  assert.equal(r.stdout, 'hello\nb\n.\n..\nf\n', describeRun(r));
  r = await sh(`cd ${mnt} && printf 0123456789 > g && printf XY | dd of=g bs=1 seek=3 conv=notrunc 2>/dev/null && cat g && stat -c %s g`);
  assert.equal(r.stdout, '012XY5678910\n', describeRun(r));
  r = await sh(`cd ${mnt} && mv g a/h && ln -s a/h link && readlink link && cat link && ln a/h hard && stat -c %h a/h`);
  assert.equal(r.stdout, 'a/h\n012XY567892\n', describeRun(r));
  r = await sh(`cd ${mnt} && rm hard link && rmdir a 2>&1; echo $?`);
  assert.match(r.stdout, /not empty/i);
  r = await sh(`cd ${mnt} && rm -r a && ls -A`);
  assert.equal(r.stdout, '', describeRun(r));
  r = await sh(`cd ${mnt} && truncate -s 5000 t && stat -c '%s %a' t && chmod 600 t && stat -c %a t && touch -d @1000000000.5 t && stat -c '%Y %y' t`);
  assert.match(r.stdout, /^5000 644\n600\n1000000000 2001-09-0\d [\d:]+\.500000000/, describeRun(r));
}
