// Unit tests of BackingRegistry: ids are opened at once and closed between requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BackingRegistry } from '../../src/passthrough/backing.js';
import type { BackingId } from '../../src/abi/types.js';

/** Records the ioctls; ids count up like the kernel's. */
function device(failClose = false) {
  const opened: number[] = [];
  const closed: number[] = [];
  let next = 1;
  return {
    opened,
    closed,
    backingOpen(fd: number): number {
      opened.push(fd);
      return next++;
    },
    backingClose(id: number): void {
      if (failClose) throw Object.assign(new Error('ENOTCONN'), { code: 'ENOTCONN' });
      closed.push(id);
    },
  };
}

test('a dropped id is closed on the device only when the idle work asks, and counts until then', () => {
  const dev = device();
  const r = new BackingRegistry(dev, () => assert.fail('nothing to log'));
  const a = r.register(10);
  const b = r.register(11);
  assert.deepEqual(dev.opened, [10, 11]);
  r.close(a);
  r.close(a); // twice, or an id never registered: ignored
  r.close(99 as BackingId);
  assert.deepEqual(dev.closed, []);
  assert.equal(r.openCount, 2);
  assert.equal(r.closeOnePending(), true);
  assert.deepEqual(dev.closed, [a]);
  assert.equal(r.closeOnePending(), false);
  assert.equal(r.openCount, 1);
  r.closeAll();
  assert.deepEqual(dev.closed, [a, b]);
  assert.equal(r.openCount, 0);
});

test('closeAll closes the pending ids and the open ones', () => {
  const dev = device();
  const r = new BackingRegistry(dev, () => undefined);
  const ids = [r.register(1), r.register(2), r.register(3)];
  r.close(ids[1]!);
  r.closeAll();
  assert.deepEqual([...dev.closed].sort(), [...ids].sort());
  assert.equal(r.openCount, 0);
});

test('past 256 pending ids a release closes them itself', () => {
  const dev = device();
  const r = new BackingRegistry(dev, () => undefined);
  const ids = Array.from({ length: 257 }, (_, i) => r.register(i));
  for (const id of ids.slice(0, 256)) r.close(id);
  assert.equal(dev.closed.length, 0);
  r.close(ids[256]!);
  assert.equal(dev.closed.length, 257);
  assert.equal(r.openCount, 0);
});

test('a failing close is logged and the id is gone', () => {
  const lines: string[] = [];
  const r = new BackingRegistry(device(true), (l) => lines.push(l));
  r.close(r.register(5));
  assert.equal(r.closeOnePending(), true);
  assert.equal(r.openCount, 0);
  assert.match(lines.join('\n'), /closing backing id 1 failed/);
});
