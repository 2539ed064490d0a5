import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LookupLedger } from '../../src/session/lookups.js';
import type { NodeId } from '../../src/index.js';

/** A node id as the kernel would send it (the ledger also takes 0, which it ignores). */
const id = (n: number): NodeId => n as NodeId;

function ledger(): { l: LookupLedger; forgotten: [number, number][]; reports: string[] } {
  const forgotten: [number, number][] = [];
  const reports: string[] = [];
  const l = new LookupLedger((id, n) => forgotten.push([id, n]), (m) => reports.push(m));
  return { l, forgotten, reports };
}

test('LookupLedger: dense node ids (1, 2, 3...) are counted past the first array, and forgotten', () => {
  const { l, forgotten } = ledger();
  const n = 5000;
  for (let id = 1; id <= n; id++) l.add(id);
  l.add(4321);
  assert.equal(l.size, n);
  assert.equal(l.count(1), 1);
  assert.equal(l.count(4321), 2);
  assert.equal(l.count(n), 1);
  assert.equal(l.count(n + 1), 0);
  l.forget(id(4321), 1);
  assert.equal(l.count(4321), 1);
  for (let i = 1; i <= n; i++) l.forget(id(i), 1);
  assert.equal(l.size, 0);
  assert.equal(l.count(4321), 0);
  assert.equal(forgotten.length, n + 1, 'every forget reaches the filesystem');
});

test('LookupLedger: sparse node ids (inode numbers) are counted too, and join the array when it grows over them', () => {
  const { l, reports } = ledger();
  const sparse = [1500, 2 ** 40, 987654321, 2 ** 53 - 1];
  for (const id of sparse) l.add(id);
  l.add(2 ** 40);
  assert.equal(l.size, 4);
  assert.equal(l.count(2 ** 40), 2);
  assert.equal(l.count(2 ** 53 - 1), 1);
  // Dense ids fill the array and widen it past 1500, which moves into it with its count.
  for (let id = 1; id < 1400; id++) l.add(id);
  assert.equal(l.count(1500), 1);
  assert.equal(l.size, 4 + 1399);
  l.forget(id(1500), 1);
  assert.equal(l.count(1500), 0);
  assert.equal(l.size, 3 + 1399);
  l.forget(id(2 ** 40), 2);
  assert.equal(l.count(2 ** 40), 0);
  assert.equal(l.size, 2 + 1399);
  assert.deepEqual(reports, []);
});

test('LookupLedger: forgetting more than the kernel was given is reported, and the count stays 0', () => {
  const { l, reports, forgotten } = ledger();
  l.add(7);
  l.forget(id(7), 3);
  assert.equal(l.count(7), 0);
  assert.equal(l.size, 0);
  l.forget(id(2 ** 45), 1);
  assert.equal(l.count(2 ** 45), 0);
  assert.equal(reports.length, 2);
  assert.match(reports[0]!, /forgot node 7 3 times but held 1/);
  assert.deepEqual(forgotten, [[7, 3], [2 ** 45, 1]]);
});

test('LookupLedger: settle counts what the kernel took and gives back what it did not; giveBack gives back', () => {
  const { l, forgotten } = ledger();
  l.settle(id(3), true);
  l.settle(id(4), false);
  l.settle(id(0), true);
  l.giveBack(id(5));
  l.giveBack(id(0));
  assert.equal(l.count(3), 1);
  assert.equal(l.count(4), 0);
  assert.equal(l.size, 1);
  assert.deepEqual(forgotten, [[4, 1], [5, 1]]);
});

test('LookupLedger: an entry without a valid node id (a handler returned a string or NaN) gives nothing back to forget', () => {
  const { l, forgotten } = ledger();
  for (const bad of [undefined, Number.NaN, 'x', -1, 0, 1.5]) l.giveBack(bad as unknown as NodeId);
  assert.deepEqual(forgotten, []);
  l.giveBack(id(7));
  assert.deepEqual(forgotten, [[7, 1]]);
});
