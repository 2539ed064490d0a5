/**
 * The fusermount3 side without mounting: the option filter, fuse.conf, the
 * helper's messages as sentences, and the descriptor exchange, played by a
 * stand-in helper that speaks the same protocol (socket in _FUSE_COMMFD,
 * SCM_RIGHTS) but passes /dev/null instead of a mounted /dev/fuse.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  fusermountOptions,
  parseFuseConf,
  explainMountFailure,
  explainUnmountFailure,
  mountWithFusermount,
  checkReceived,
  FusermountError,
} from '../../src/transport/fusermount.js';
import type { KernelMountParams } from '../../src/transport/mount.js';
import {
  socketpair, sendmsg, recvmsg, isCloseOnExec, fcntl, tryClose,
  AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC, MSG_DONTWAIT, MSG_CMSG_CLOEXEC, F_GETFL,
  MS_NOEXEC, MS_NOATIME, MS_RELATIME, O_NONBLOCK,
} from '../../src/sys/index.js';

const base: KernelMountParams = { source: '/srv/data', subtype: 'fusekit', rootMode: 0o40755, uid: 1000, gid: 1000 };
const user = { privileged: false, userAllowOther: false, autoUnmount: false };

test('options: source and subtype always, escaped; rootmode and ids are left to the helper', () => {
  const r = fusermountOptions({ ...base, source: 'a,b\\c' }, user);
  assert.deepEqual(r, { options: ['fsname=a\\,b\\\\c', 'subtype=fusekit'], refused: [] });
});

test('options: what an ordinary user may have is passed on', () => {
  const r = fusermountOptions(
    { ...base, readOnly: true, defaultPermissions: true, maxRead: 131072, flags: MS_NOEXEC | MS_NOATIME },
    { ...user, autoUnmount: true },
  );
  assert.deepEqual(r.refused, []);
  assert.deepEqual(r.options, ['fsname=/srv/data', 'subtype=fusekit', 'ro', 'default_permissions', 'max_read=131072', 'noexec', 'noatime', 'auto_unmount']);
});

test('options: suid, dev and allow_other are refused for a user, one sentence each', () => {
  const r = fusermountOptions({ ...base, suid: true, dev: true, allowOther: true }, user);
  assert.deepEqual(r.refused, [
    'suid is not possible for an ordinary user: fusermount3 always mounts nosuid for users',
    'dev is not possible for an ordinary user: fusermount3 always mounts nodev for users',
    'allow_other needs user_allow_other in /etc/fuse.conf',
  ]);
  assert.ok(!r.options.includes('suid') && !r.options.includes('dev') && !r.options.includes('allow_other'));
});

test('options: allow_other passes with user_allow_other; root may have everything', () => {
  assert.ok(fusermountOptions({ ...base, allowOther: true }, { ...user, userAllowOther: true }).options.includes('allow_other'));
  const root = fusermountOptions({ ...base, suid: true, dev: true, allowOther: true }, { ...user, privileged: true });
  assert.deepEqual(root.refused, []);
  assert.deepEqual(root.options.slice(2), ['suid', 'dev', 'allow_other']);
});

test('options: mount flags without a fusermount3 option are refused by name', () => {
  const r = fusermountOptions({ ...base, flags: MS_RELATIME | 0x40000000 }, user);
  assert.deepEqual(r.refused, ['mount flags MS_RELATIME, 0x40000000 cannot be passed through fusermount3']);
});

test('fuse.conf: user_allow_other and mount_max as fusermount3 reads them', () => {
  assert.deepEqual(parseFuseConf(''), { userAllowOther: false, mountMax: 1000 });
  assert.deepEqual(parseFuseConf('#user_allow_other\n# mount_max = 5\n'), { userAllowOther: false, mountMax: 1000 });
  assert.deepEqual(parseFuseConf('  user_allow_other  # yes\nmount_max = 7\n'), { userAllowOther: true, mountMax: 7 });
});

test("the helper's failures become one sentence with an errno name", () => {
  const cases: [string, RegExp, string][] = [
    ["fusermount3: option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf\n", /^allow_other needs user_allow_other in \/etc\/fuse.conf$/, 'EPERM'],
    ['fusermount3: too many FUSE filesystems mounted; mount_max=N can be set in /etc/fuse.conf\n', /mount_max in \/etc\/fuse.conf/, 'EMFILE'],
    ['fusermount3: user has no write access to mountpoint /m\n', /^mountpoint \/m is not writable by this user/, 'EACCES'],
    ['fusermount3: failed to access mountpoint /m: Permission denied\n', /^mountpoint \/m cannot be used: Permission denied$/, 'EACCES'],
    ['fusermount3: mounting over filesystem type 0x9fa0 is forbidden\n', /filesystem type \(0x9fa0\)/, 'EPERM'],
    ["fusermount3: unknown option 'bogus'\n", /does not accept the mount option bogus/, 'EINVAL'],
    ['fusermount3: something new\n', /^fusermount3 failed: something new$/, 'EIO'],
    ['', /without saying why/, 'EIO'],
  ];
  for (const [stderr, says, code] of cases) {
    const e = explainMountFailure(stderr, '/m');
    assert.match(e.message, says, stderr);
    assert.equal(e.code, code, stderr);
  }
  assert.equal(explainUnmountFailure('fusermount3: failed to unmount /m: Device or resource busy\n', '/m').code, 'EBUSY');
  assert.equal(explainUnmountFailure('fusermount3: entry for /m not found in /etc/mtab\n', '/m').code, 'EINVAL');
});

test('SCM_RIGHTS: one descriptor is taken, several or a truncated control message are refused and closed', () => {
  const [a, b] = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  const nul = fs.openSync('/dev/null', 'r');
  try {
    const open = () => fs.readdirSync('/proc/self/fd').length;
    sendmsg(b, Buffer.from([0]), [nul]);
    let msg = recvmsg(a, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, 1)!;
    const one = checkReceived(msg);
    assert.ok('fd' in one);
    assert.equal(fs.readlinkSync(`/proc/self/fd/${one.fd}`), '/dev/null');
    assert.ok(isCloseOnExec(one.fd), 'MSG_CMSG_CLOEXEC sets close-on-exec');
    tryClose(one.fd);

    // Room for one descriptor is room for two (CMSG_SPACE rounds up to 8 bytes): two are refused by count.
    const before = open();
    sendmsg(b, Buffer.from([0]), [nul, nul]);
    msg = recvmsg(a, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, 1)!;
    assert.equal(msg.truncated, false);
    assert.match((checkReceived(msg) as { error: string }).error, /sent 2 descriptors instead of one/);
    assert.equal(open(), before, 'the refused descriptors are closed');

    // Three do not fit: the kernel sets MSG_CTRUNC.
    sendmsg(b, Buffer.from([0]), [nul, nul, nul]);
    msg = recvmsg(a, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, 1)!;
    assert.equal(msg.truncated, true);
    assert.match((checkReceived(msg) as { error: string }).error, /truncated control message/);
    assert.equal(open(), before, 'the descriptors that did arrive are closed');

    assert.equal(recvmsg(a, MSG_DONTWAIT, 1), undefined, 'nothing left: EAGAIN');
  } finally {
    fs.closeSync(nul);
    tryClose(a);
    tryClose(b);
  }
});

/** A stand-in for fusermount3: records its arguments, then sends FDS copies of /dev/null, or fails as told. */
function fakeHelper(dir: string): string {
  const socketModule = pathToFileURL(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../src/sys/socket.js')).href;
  const file = path.join(dir, 'fake-fusermount3');
  fs.writeFileSync(
    file,
    `#!${process.execPath}
import * as fs from 'node:fs';
const { sendmsg } = await import(${JSON.stringify(socketModule)});
fs.writeFileSync(process.env.FAKE_ARGS, JSON.stringify({ argv: process.argv.slice(2), commfd: process.env._FUSE_COMMFD }));
if (process.env.FAKE_FAIL) { process.stderr.write(process.env.FAKE_FAIL); process.exit(1); }
const fd = Number(process.env._FUSE_COMMFD);
const nul = fs.openSync('/dev/null', 'r+');
sendmsg(fd, Buffer.from([0]), Array(Number(process.env.FAKE_FDS)).fill(nul));
`,
    { mode: 0o755 },
  );
  return file;
}

async function withFake<T>(env: Record<string, string>, fn: (program: string, argsFile: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-fake-'));
  const saved = { ...process.env };
  try {
    const argsFile = path.join(dir, 'args.json');
    Object.assign(process.env, env, { FAKE_ARGS: argsFile });
    return await fn(fakeHelper(dir), argsFile);
  } finally {
    for (const k of Object.keys(env).concat('FAKE_ARGS')) delete process.env[k];
    Object.assign(process.env, saved);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the exchange: -o OPTIONS -- MOUNTPOINT, the socket as descriptor 3, one descriptor back, close-on-exec and non-blocking', { timeout: 30_000 }, async () => {
  await withFake({ FAKE_FDS: '1' }, async (program, argsFile) => {
    const m = await mountWithFusermount(program, '/some/where', ['fsname=x', 'subtype=y'], { autoUnmount: false });
    try {
      assert.deepEqual(JSON.parse(fs.readFileSync(argsFile, 'utf8')), { argv: ['-o', 'fsname=x,subtype=y', '--', '/some/where'], commfd: '3' });
      assert.equal(fs.readlinkSync(`/proc/self/fd/${m.fd}`), '/dev/null');
      assert.ok(isCloseOnExec(m.fd));
      assert.ok((fcntl(m.fd, F_GETFL) & O_NONBLOCK) !== 0, 'the channel reads the device non-blocking');
    } finally {
      tryClose(m.fd);
      m.release();
    }
  });
});

test('the exchange: a truncated control message or a failing helper is a FusermountError, with nothing left open', { timeout: 30_000 }, async () => {
  const open = () => fs.readdirSync('/proc/self/fd').length;
  const before = open();
  await withFake({ FAKE_FDS: '3' }, async (program) => {
    await assert.rejects(mountWithFusermount(program, '/m', ['fsname=x'], { autoUnmount: false }), (e: unknown) => {
      assert.ok(e instanceof FusermountError);
      assert.match(e.message, /truncated control message/);
      assert.equal(e.code, 'EPROTO');
      return true;
    });
  });
  await withFake({ FAKE_FDS: '0', FAKE_FAIL: 'fusermount3: user has no write access to mountpoint /m\n' }, async (program) => {
    await assert.rejects(mountWithFusermount(program, '/m', ['fsname=x'], { autoUnmount: false }), {
      message: 'mountpoint /m is not writable by this user, and fusermount3 mounts only where the user may write',
      code: 'EACCES',
    });
  });
  await assert.rejects(mountWithFusermount('/nonexistent/fusermount3', '/m', [], { autoUnmount: false }), { code: 'ENOENT' });
  // Let the children's pipes close.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(open(), before, 'descriptors leaked');
});
