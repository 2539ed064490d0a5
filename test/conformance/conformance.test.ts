/**
 * The POSIX conformance suite and the random-operation exerciser
 * (`npm run conformance`), run as part of the test suite: every case on the
 * source and through the mirror in each passthrough policy must agree, except
 * the differences listed in conformance/known-differences.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { REPO_ROOT, run, describeRun } from '../helpers/mount.js';

test('conformance: source and mirror agree in every passthrough policy', { timeout: 600_000 }, async (t) => {
  const r = await run(process.execPath, [path.join(REPO_ROOT, 'dist', 'conformance', 'run.js')], { timeoutMs: 540_000 });
  for (const line of r.stdout.trim().split('\n').slice(-12)) t.diagnostic(line);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stdout, /0 unexpected failures/);
});
