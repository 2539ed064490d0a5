/**
 * The mountinfo parser that connectionIdOf, isMounted, `fusekit umount` and
 * every test's and the bench's forced cleanup rely on: optional fields,
 * escaped paths and stacked mounts, from fixed text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFuseFsType, parseMountInfo, readMountInfo } from '../../src/transport/mount.js';

const TEXT = [
  // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
  '22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '31 22 0:27 / /sys/fs/fuse/connections rw,nosuid,nodev,noexec,relatime shared:12 - fusectl none rw',
  // No optional fields; a space, a tab and a backslash escaped in the mount point and the source.
  '45 22 0:53 / /tmp/a\\040b\\011c\\134d rw,nosuid,nodev,relatime - fuse.fusekit /src\\040dir rw,user_id=0,group_id=0,allow_other',
  // Two optional fields; then a second mount stacked on the same point.
  '46 22 0:54 / /mnt/x ro,nosuid,nodev shared:30 master:2 - fuse.fusekit /s rw,user_id=0,group_id=0',
  '47 46 0:55 / /mnt/x rw,relatime - tmpfs tmpfs rw,size=1024k',
  '',
].join('\n');

test('parseMountInfo: every field, with and without optional fields', () => {
  const e = parseMountInfo(TEXT);
  assert.equal(e.length, 5);
  assert.deepEqual(e[0], { major: 252, minor: 1, mountPoint: '/', options: 'rw,relatime', fsType: 'ext4', source: '/dev/vda', superOptions: 'rw,discard' });
  assert.deepEqual(e[3], {
    major: 0,
    minor: 54,
    mountPoint: '/mnt/x',
    options: 'ro,nosuid,nodev',
    fsType: 'fuse.fusekit',
    source: '/s',
    superOptions: 'rw,user_id=0,group_id=0',
  });
  assert.equal(e[4]?.fsType, 'tmpfs', 'a stacked mount comes later in the table');
});

test('parseMountInfo: octal escapes in paths are undone', () => {
  const e = parseMountInfo(TEXT)[2];
  assert.equal(e?.mountPoint, '/tmp/a b\tc\\d');
  assert.equal(e?.source, '/src dir');
  assert.equal(e?.minor, 53);
});

test('isFuseFsType: FUSE and fuseblk with or without a subtype, not fusectl', () => {
  for (const t of ['fuse', 'fuse.fusekit', 'fuseblk', 'fuseblk.ntfs']) assert.equal(isFuseFsType(t), true, t);
  for (const t of ['fusectl', 'ext4', 'tmpfs', 'fuse2']) assert.equal(isFuseFsType(t), false, t);
});

test('readMountInfo: this process has a root mount', () => {
  assert.ok(readMountInfo().some((e) => e.mountPoint === '/'));
});
