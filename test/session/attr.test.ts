/** The attribute helpers and nodeId(). No mount. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { attrFromStats, makeAttr, nodeId } from '../../src/fs/attr.js';
import { S_IFDIR, S_IFREG } from '../../src/sys/constants.js';

test('attrFromStats: Stats and BigIntStats give the same attributes; BigIntStats keeps nanoseconds', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-attr-'));
  try {
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, 'x'.repeat(5000));
    fs.utimesSync(f, 1_700_000_000.123456, 1_600_000_000.5);
    const big = fs.statSync(f, { bigint: true });
    const a = attrFromStats(big);
    assert.equal(a.size, 5000);
    assert.equal(a.ino, Number(big.ino));
    assert.equal(a.mode, Number(big.mode));
    assert.equal(a.mtimeSec, 1_600_000_000);
    assert.equal(a.mtimeNsec, 500_000_000);
    assert.equal(a.atimeSec, 1_700_000_000);
    assert.equal(BigInt(a.atimeSec) * 1_000_000_000n + BigInt(a.atimeNsec), big.atimeNs);
    const small = attrFromStats(fs.statSync(f));
    assert.equal(small.size, a.size);
    assert.equal(small.mtimeSec, a.mtimeSec);
    assert.equal(small.mtimeNsec, a.mtimeNsec);
    assert.ok(Math.abs(small.atimeNsec - a.atimeNsec) < 1000, 'Stats times are exact to the microsecond here');
    assert.equal(attrFromStats(big, { ino: 7 }).ino, 7);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('makeAttr: defaults from a mode and size', () => {
  const f = makeAttr({ mode: S_IFREG | 0o644, size: 1025, ino: 3, time: new Date(1500) });
  assert.equal(f.nlink, 1);
  assert.equal(f.blocks, 3);
  assert.equal(f.mtimeSec, 1);
  assert.equal(f.mtimeNsec, 500_000_000);
  assert.equal(f.uid, process.getuid!());
  const d = makeAttr({ mode: S_IFDIR | 0o755 });
  assert.equal(d.nlink, 2);
  assert.equal(d.size, 0);
  assert.ok(Math.abs(d.ctimeSec - Date.now() / 1000) < 5);
});

test('nodeId: integers from 1, nothing else', () => {
  assert.equal(nodeId(1), 1);
  assert.equal(nodeId(2 ** 53 - 1), 2 ** 53 - 1);
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53]) assert.throws(() => nodeId(bad), RangeError);
});
