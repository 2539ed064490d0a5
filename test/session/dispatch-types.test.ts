/**
 * Compile-time checks of the dispatch table's typing: each `@ts-expect-error`
 * below must stay an error, or the build (and so `npm test`) fails with an
 * unused directive. The runtime test only makes the file part of the run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeStatfsOut } from '../../src/abi/index.js';
import type { Operation, OperationTable, RequestOf } from '../../src/session/operations.js';
import { OPERATIONS } from '../../src/session/operations.js';

// A LOOKUP row must answer an EntryOut; encoding it as another reply does not compile.
const wrongReply: Operation<RequestOf['LOOKUP'], import('../../src/abi/index.js').EntryOut> = {
  call: (fs, q, x) => (fs.lookup ? fs.lookup(q, x) : OPERATIONS.LOOKUP.call(fs, q, x, undefined as never)),
  // @ts-expect-error: an EntryOut is not a StatfsOut
  reply: (out, x, _q, v) => out.struct(x, encodeStatfsOut, v),
};

// A GETATTR row cannot call the lookup method.
const wrongMethod: Partial<OperationTable> = {
  GETATTR: {
    // @ts-expect-error: lookup takes a LookupRequest and returns an entry
    call: (fs, q, x) => fs.lookup!(q, x),
    reply: () => undefined,
  },
};

test('the dispatch table has a row for every answered opcode', () => {
  assert.ok(wrongReply && wrongMethod);
  const ops = Object.keys(OPERATIONS);
  assert.ok(ops.includes('LOOKUP') && ops.includes('STATX') && ops.length === 40, ops.join(' '));
});
