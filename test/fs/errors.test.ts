import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { Errno, FuseError, errnoFromError } from '../../src/fs/errors.js';

const E = constants.errno;

test('Errno.of shares one frozen instance per errno and names it', () => {
  const a = Errno.of(E.ENOENT);
  assert.equal(a, Errno.of(E.ENOENT));
  assert.notEqual(a, Errno.of(E.ENODATA));
  assert.equal(a.errno, E.ENOENT);
  assert.equal(a.code, 'ENOENT');
  assert.equal(Errno.of('ENOENT'), a);
  assert.ok(Object.isFrozen(a));
});

test('Errno.of refuses what is not an errno', () => {
  for (const bad of [0, -2, 512, 1.5, Number.NaN, 'ENOPE', '']) assert.throws(() => Errno.of(bad), RangeError, String(bad));
});

test('errnoFromError reads Errno, FuseError, Node errors and aborts; nothing else', () => {
  assert.equal(errnoFromError(Errno.of(E.EROFS)), E.EROFS);
  assert.equal(errnoFromError(new FuseError('EACCES')), E.EACCES);
  assert.equal(errnoFromError(Object.assign(new Error('x'), { code: 'ENOTDIR' })), E.ENOTDIR);
  assert.equal(errnoFromError(Object.assign(new Error('x'), { name: 'AbortError' })), E.EINTR);
  assert.equal(errnoFromError(new Error('plain')), undefined);
  assert.equal(errnoFromError('ENOENT'), undefined);
});
