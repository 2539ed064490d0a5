/** `fusekit mirror` argument parsing: the mount method and auto_unmount options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMirrorArgs, UsageError } from '../../src/cli/options.js';

test('-o auto_unmount and -o noauto_unmount set autoUnmount; unset, the command decides by privilege', () => {
  assert.equal(parseMirrorArgs(['s', 'm']).mount.autoUnmount, undefined);
  assert.equal(parseMirrorArgs(['s', 'm', '-o', 'auto_unmount']).mount.autoUnmount, true);
  assert.equal(parseMirrorArgs(['s', 'm', '-o', 'auto_unmount,noauto_unmount']).mount.autoUnmount, false);
  assert.throws(() => parseMirrorArgs(['s', 'm', '-o', 'auto_unmount=1']), UsageError);
});

test('--mount-method takes auto, syscall or fusermount', () => {
  assert.equal(parseMirrorArgs(['s', 'm']).mount.mountMethod, undefined);
  assert.equal(parseMirrorArgs(['--mount-method', 'fusermount', 's', 'm']).mount.mountMethod, 'fusermount');
  assert.equal(parseMirrorArgs(['s', 'm', '--mount-method=syscall']).mount.mountMethod, 'syscall');
  assert.throws(() => parseMirrorArgs(['s', 'm', '--mount-method', 'sudo']), /--mount-method must be one of auto, syscall, fusermount/);
});

test('the mirror watches SRC where that is safe by default, always with --watch; --no-watch and -o exclusive leave it off', () => {
  assert.equal(parseMirrorArgs(['s', 'm']).mirror.watch, 'auto');
  assert.equal(parseMirrorArgs(['s', 'm', '--no-watch']).mirror.watch, false);
  assert.equal(parseMirrorArgs(['s', 'm', '-o', 'exclusive']).mirror.watch, false);
  assert.equal(parseMirrorArgs(['s', 'm', '-o', 'exclusive', '--watch']).mirror.watch, true);
  // Timeouts given stay as given; the defaults are the mirror's, by whether it watches.
  assert.equal(parseMirrorArgs(['s', 'm', '-o', 'timeout=5']).mirror.entryTimeout, 5);
  assert.equal(parseMirrorArgs(['s', 'm']).mirror.entryTimeout, undefined);
});
