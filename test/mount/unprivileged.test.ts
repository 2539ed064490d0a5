/**
 * `fusekit mirror` run by an ordinary user, who mounts through fusermount3:
 * data, trees, the stats file, signals, SIGKILL with auto_unmount, `fusekit
 * umount`, and every refusal as one sentence with no mount left behind.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeRun, isMounted, pollUntil, run } from '../helpers/mount.js';
import {
  USER,
  makeUserDirs,
  mountedByUser,
  runAsUser,
  shAsUser,
  startUserServer,
  unprivilegedMountsUnavailable,
  userReadableRoot,
  waitUnmounted,
  type UserDirs,
  type UserServer,
} from './common.js';

const T = { timeout: 120_000, skip: unprivilegedMountsUnavailable() };
const READY = /fusekit: mirroring /;

async function cli(): Promise<string> {
  return path.join(await userReadableRoot(), 'bin', 'fusekit');
}

/** Gives `p` and everything under it to USER. */
function chownTree(p: string): void {
  fs.lchownSync(p, USER.uid, USER.gid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e));
}

/** Mirrors d.src at d.mnt as USER with `args(d)`, runs `fn`, and always cleans up. */
async function withUserMirror(
  args: (d: UserDirs) => readonly string[],
  fn: (d: UserDirs, server: UserServer) => Promise<void>,
  prepare?: (d: UserDirs) => void,
): Promise<void> {
  const d = makeUserDirs();
  let server: UserServer | undefined;
  try {
    prepare?.(d);
    server = await startUserServer([await cli(), 'mirror', d.src, d.mnt, ...args(d)], d.mnt, { ready: READY });
    await fn(d, server);
  } catch (err) {
    if (err instanceof Error && server) err.message += `\n--- server stderr ---\n${server.stderr().slice(-4000)}`;
    throw err;
  } finally {
    await server?.destroy();
    d.cleanup();
  }
}

/** Runs `fusekit ARGS` as USER to completion (for commands that must fail). */
async function cliAsUser(args: readonly string[], env?: Record<string, string>) {
  return runAsUser(process.execPath, [await cli(), ...args], { timeoutMs: 15_000, userEnv: env });
}

/** The one line a refused command printed. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

test('a user mirror: 32 MiB round trip, cp -a and diff -r, ownership, denied files, stats, SIGTERM', T, async () => {
  await withUserMirror(
    (d) => ['--stats-file', path.join(d.root, 'work', 'stats.json')],
    async (d, server) => {
      const work = path.join(d.root, 'work');
      assert.ok(mountedByUser(d.mnt), 'the mount belongs to the user');
      assert.match(fs.readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(`${d.mnt} .*nosuid,nodev`));
      // Passthrough needs CAP_SYS_ADMIN: said once, at start.
      assert.equal(server.stderr().match(/passthrough off \(/g)?.length, 1, server.stderr());
      assert.match(server.stderr(), /CAP_SYS_ADMIN/);

      let r = await shAsUser(
        `head -c 33554432 /dev/urandom > ${work}/big && cp ${work}/big ${d.mnt}/big && cmp ${work}/big ${d.mnt}/big && cmp ${d.mnt}/big ${d.src}/big && stat -c '%s %u' ${d.mnt}/big`,
        { timeoutMs: 60_000 },
      );
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout.trim(), `33554432 ${USER.uid}`);

      r = await shAsUser(
        `cp -a ${work}/tree ${d.mnt}/tree && diff -r ${work}/tree ${d.mnt}/tree && diff -r ${d.mnt}/tree ${d.src}/tree && ` +
          `stat -c %a ${d.mnt}/tree/a/f1 && readlink ${d.mnt}/tree/link && find ${d.src}/tree ! -user ${USER.uid} | wc -l`,
      );
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(r.stdout.trim().split('\n'), ['600', 'a/f1', '0'], 'modes and links kept; everything belongs to the user');

      // What the user may not read in SRC, the user may not read through MNT either.
      const denied = await shAsUser(`cat ${d.src}/root-only; echo "src=$?"; cat ${d.mnt}/root-only; echo "mnt=$?"`);
      assert.match(denied.stdout, /src=1\s+mnt=1/, describeRun(denied));
      assert.equal(denied.stderr.match(/Permission denied/g)?.length, 2, describeRun(denied));

      type Stats = { requests: Record<string, number>; passthrough: { fallbacks: Record<string, number> } };
      await pollUntil(
        () => {
          const s = JSON.parse(fs.readFileSync(path.join(work, 'stats.json'), 'utf8')) as Stats;
          return (s.requests['WRITE'] ?? 0) > 0 && (s.passthrough.fallbacks['no-permission'] ?? 0) > 0;
        },
        { timeoutMs: 5000, intervalMs: 100, what: 'WRITE requests and no-permission fallbacks in the stats file' },
      );

      server.child.kill('SIGTERM');
      const e = await server.waitExit(10_000);
      assert.deepEqual(e, { code: 0, signal: null }, server.stderr());
      assert.equal(isMounted(d.mnt), false);
    },
    (d) => {
      const work = path.join(d.root, 'work');
      fs.mkdirSync(path.join(work, 'tree', 'a', 'b'), { recursive: true });
      for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(work, 'tree', i % 2 ? 'a' : 'a/b', `f${i}`), `file ${i}\n`.repeat(i * 50));
      fs.symlinkSync('a/f1', path.join(work, 'tree', 'link'));
      fs.chmodSync(path.join(work, 'tree', 'a', 'f1'), 0o600);
      chownTree(work);
      fs.writeFileSync(path.join(d.src, 'root-only'), 'secret');
      fs.chmodSync(path.join(d.src, 'root-only'), 0o600);
    },
  );
});

/** Sets a POSIX access ACL on `file`: its owner rw, the named user `uid` `perm`, group and mask r, other `other` (as system.posix_acl_access, no setfacl needed). */
async function setUserAcl(file: string, uid: number, perm: number, other: number): Promise<void> {
  const code = `
import os, struct, sys
f, uid, perm, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
none = 0xffffffff
entries = [(0x01, 6, none), (0x02, perm, uid), (0x04, 4, none), (0x10, 4, none), (0x20, other, none)]
os.setxattr(f, 'system.posix_acl_access', struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in entries))
`;
  const r = await run('/usr/bin/python3', ['-c', code, file, String(uid), String(perm), String(other)], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, describeRun(r));
}

test('access(2) through a user mirror answers as the source does, POSIX ACLs included', T, async () => {
  await withUserMirror(
    () => [],
    async (d) => {
      await setUserAcl(path.join(d.src, 'acl-deny'), USER.uid, 0, 4);
      await setUserAcl(path.join(d.src, 'acl-grant'), USER.uid, 4, 0);
      const probe = (dir: string) => `/usr/bin/python3 -c "import os, sys; print(' '.join('%s=%d' % (n, os.access(os.path.join(sys.argv[1], n), os.R_OK)) for n in ('acl-deny', 'acl-grant')))" ${dir}`;
      const native = await shAsUser(probe(d.src));
      const mirrored = await shAsUser(probe(d.mnt));
      assert.equal(native.stdout.trim(), 'acl-deny=0 acl-grant=1', describeRun(native));
      assert.equal(mirrored.stdout, native.stdout, describeRun(mirrored));
    },
    (d) => {
      for (const [name, mode] of [['acl-deny', 0o644], ['acl-grant', 0o640]] as const) {
        fs.writeFileSync(path.join(d.src, name), 'x');
        fs.chmodSync(path.join(d.src, name), mode);
      }
    },
  );
});

test('a directory the user may not watch (execute-only) keeps short timeouts for itself alone; the rest stays watched', T, async () => {
  await withUserMirror(() => [], async (d, server) => {
    const other = path.join(d.src, 'other', 'g');
    const hidden = path.join(d.src, 'xonly', 'f');
    const modeOf = async (p: string) => {
      const r = await shAsUser(`stat -c %a ${p}`);
      assert.equal(r.code, 0, describeRun(r));
      return r.stdout.trim();
    };
    // Known to the kernel, with attributes cached, in both directories.
    assert.equal(await modeOf(path.join(d.mnt, 'xonly', 'f')), '644');
    assert.equal(await modeOf(path.join(d.mnt, 'other', 'g')), '644');
    // Watched: a change made in SRC shows at once, not after a timeout.
    fs.chmodSync(other, 0o600);
    await pollUntil(async () => (await modeOf(path.join(d.mnt, 'other', 'g'))) === '600', { timeoutMs: 500, what: 'a change in a watched directory within 0.5 s' });
    // Not watchable: the change still shows, after the short timeout (1 s) instead of an hour.
    fs.chmodSync(hidden, 0o640);
    await pollUntil(async () => (await modeOf(path.join(d.mnt, 'xonly', 'f'))) === '640', { timeoutMs: 3000, what: 'a change in the execute-only directory within 3 s' });
    const err = server.stderr();
    assert.match(err, /may not watch \S*xonly \(no read permission\)/);
    assert.doesNotMatch(err, /cannot watch the source/);
  }, (d) => {
    fs.mkdirSync(path.join(d.src, 'other'));
    fs.writeFileSync(path.join(d.src, 'other', 'g'), 'g');
    fs.chmodSync(path.join(d.src, 'other', 'g'), 0o644);
    fs.chownSync(path.join(d.src, 'other'), USER.uid, USER.gid);
    fs.mkdirSync(path.join(d.src, 'xonly'), 0o711);
    fs.chmodSync(path.join(d.src, 'xonly'), 0o711);
    fs.writeFileSync(path.join(d.src, 'xonly', 'f'), 'f');
    fs.chmodSync(path.join(d.src, 'xonly', 'f'), 0o644);
  });
});

test('SIGINT unmounts a user mirror, which exits 0', T, async () => {
  await withUserMirror(() => [], async (d, server) => {
    server.child.kill('SIGINT');
    assert.deepEqual(await server.waitExit(10_000), { code: 0, signal: null }, server.stderr());
    assert.equal(isMounted(d.mnt), false);
  });
});

test('SIGKILL of a user mirror: auto_unmount (the default for a user) detaches the mount within a second', T, async () => {
  await withUserMirror(() => [], async (d, server) => {
    const r = await shAsUser(`ls ${d.mnt}`);
    assert.equal(r.code, 0, describeRun(r));
    server.child.kill('SIGKILL');
    await server.waitExit(10_000);
    const took = await waitUnmounted(d.mnt, 1000);
    assert.notEqual(took, undefined, `${d.mnt} still mounted a second after SIGKILL`);
  });
});

test('-o noauto_unmount: a SIGKILLed user mirror leaves a dead mount, which `fusekit umount` as the user clears', T, async () => {
  await withUserMirror(() => ['-o', 'noauto_unmount'], async (d, server) => {
    server.child.kill('SIGKILL');
    await server.waitExit(10_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(isMounted(d.mnt), 'without auto_unmount the dead mount stays');
    const stat = await shAsUser(`stat ${d.mnt}`);
    assert.match(stat.stderr, /not connected/, describeRun(stat));
    const r = await cliAsUser(['umount', d.mnt]);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(isMounted(d.mnt), false);
  });
});

test('a second user mirror on a mounted MNT is refused without advice the user cannot follow', T, async () => {
  await withUserMirror(() => [], async (d) => {
    const r = await cliAsUser(['mirror', d.src, d.mnt]);
    assert.equal(r.code, 1, describeRun(r));
    // fusermount3 checks the mountpoint as root, which a user's mount without allow_other refuses: -o nonempty cannot help.
    assert.match(r.stderr, /is already a FUSE mount of another process; unmount it first \(fusekit umount \S+\)\n$/, describeRun(r));
  });
});

test('`fusekit umount MNT` as the user unmounts a running user mirror, which exits 0', T, async () => {
  await withUserMirror(() => [], async (d, server) => {
    const r = await cliAsUser(['umount', d.mnt]);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(isMounted(d.mnt), false);
    assert.deepEqual(await server.waitExit(10_000), { code: 0, signal: null }, server.stderr());
  });
});

test('`fusekit umount` of a busy user mount says so; -l detaches it', T, async () => {
  await withUserMirror(
    () => [],
    async (d, server) => {
      // A user process keeps a file open on the mount.
      const holder = runAsUser('sh', ['-c', `exec 3<${d.mnt}/f; sleep 3`], { timeoutMs: 10_000 });
      await pollUntil(async () => (await cliAsUser(['umount', d.mnt])).stderr.includes('busy'), { timeoutMs: 5000, what: 'umount reporting busy' });
      const r = await cliAsUser(['umount', '-l', d.mnt]);
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(isMounted(d.mnt), false);
      await holder;
      assert.deepEqual(await server.waitExit(10_000), { code: 0, signal: null }, server.stderr());
    },
    (d) => {
      fs.writeFileSync(path.join(d.src, 'f'), 'x');
      chownTree(path.join(d.src, 'f'));
    },
  );
});

/** A refused mirror: one line naming the problem, a non-zero exit, no mount. */
async function refused(args: (d: UserDirs) => readonly string[], says: RegExp, env?: Record<string, string>, prepare?: (d: UserDirs) => void): Promise<void> {
  const d = makeUserDirs();
  try {
    prepare?.(d);
    const r = await cliAsUser(['mirror', d.src, d.mnt, ...args(d)], env);
    assert.equal(r.timedOut, false, describeRun(r));
    assert.ok(r.code !== 0 && r.code !== null, describeRun(r));
    assert.match(oneLine(r.stderr), says);
    assert.equal(isMounted(d.mnt), false, 'a mount was left behind');
  } finally {
    d.cleanup();
  }
}

test('refused as a user: suid, dev, allow_other without user_allow_other, --passthrough always', T, async () => {
  await refused(() => ['-o', 'suid'], /^fusekit: suid is not possible for an ordinary user: fusermount3 always mounts nosuid/);
  await refused(() => ['-o', 'dev'], /^fusekit: dev is not possible for an ordinary user: fusermount3 always mounts nodev/);
  await refused(() => ['-o', 'suid,dev'], /suid is not possible.*; dev is not possible/);
  const conf = fs.existsSync('/etc/fuse.conf') ? fs.readFileSync('/etc/fuse.conf', 'utf8') : '';
  if (!/^\s*user_allow_other\s*$/m.test(conf)) {
    await refused(() => ['-o', 'allow_other'], /^fusekit: allow_other needs user_allow_other in \/etc\/fuse.conf$/);
  }
  await refused(() => ['--passthrough', 'always'], /^fusekit: --passthrough always needs CAP_SYS_ADMIN .*with --passthrough auto file data goes through the server/);
});

test('refused as a user: no fusermount3, a mountpoint the user cannot write, mount(2) forced', T, async () => {
  await refused(() => [], /^fusekit: mounting as an ordinary user needs fusermount3, which is not installed \(Debian and Ubuntu: apt install fuse3/, { PATH: '/nonexistent' });
  await refused(() => [], /^fusekit: mountpoint \S+ is not writable by this user, and fusermount3 mounts only where the user may write$/, undefined, (d) => {
    fs.chownSync(d.mnt, 0, 0);
  });
  await refused(() => ['--mount-method', 'syscall'], /^fusekit: --mount-method syscall needs CAP_SYS_ADMIN \(root\); an ordinary user mounts through fusermount3 \(--mount-method auto or fusermount\)$/);
});

test('refused as a user: mount_max reached (a private mount namespace with its own fuse.conf)', T, async () => {
  const d = makeUserDirs();
  try {
    const conf = path.join(d.root, 'fuse.conf');
    fs.writeFileSync(conf, 'mount_max = 0\n');
    const script = `mount --bind "$1" /etc/fuse.conf && exec setpriv --reuid=${USER.uid} --regid=${USER.gid} --clear-groups "$2" "$3" mirror "$4" "$5"`;
    const r = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', conf, process.execPath, await cli(), d.src, d.mnt], { timeoutMs: 15_000 });
    assert.ok(r.code !== 0 && r.code !== null, describeRun(r));
    assert.match(oneLine(r.stderr), /^fusekit: the system has reached the number of FUSE mounts fusermount3 allows ordinary users \(mount_max in \/etc\/fuse.conf\)$/);
    assert.equal(isMounted(d.mnt), false);
  } finally {
    d.cleanup();
  }
});

test('a user mirror with allow_other: root creates through it, and what it creates stays the user\'s (a private mount namespace with its own fuse.conf)', T, async () => {
  const d = makeUserDirs();
  try {
    const conf = path.join(d.root, 'fuse.conf');
    fs.writeFileSync(conf, 'user_allow_other\n');
    const tree = path.join(d.root, 'tree');
    fs.mkdirSync(path.join(tree, 'a'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'a', 'f'), 'data\n');
    const tarball = path.join(d.root, 'tree.tar');
    // Entries owned by the user: root's tar then chowns each to the user, which an unprivileged server may do.
    let r = await run('tar', ['-cf', tarball, '-C', tree, `--owner=${USER.uid}`, `--group=${USER.gid}`, 'a'], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, describeRun(r));
    // A pid namespace too: when the script ends or is killed, the server goes with it.
    const script = [
      'set -e',
      'mount --bind "$1" /etc/fuse.conf',
      `setpriv --reuid=${USER.uid} --regid=${USER.gid} --clear-groups --inh-caps=-all "$2" "$3" mirror "$4" "$5" -o allow_other &`,
      'pid=$!',
      'i=0; until grep -q " $5 " /proc/self/mountinfo; do i=$((i+1)); [ $i -lt 100 ] || exit 3; sleep 0.1; done',
      'mkdir "$5/dir"; echo x > "$5/file"; tar -xf "$6" -C "$5/dir"',
      'cat "$5/file" "$5/dir/a/f"',
      'find "$4" ! -user ' + String(USER.uid) + ' | wc -l',
      'kill $pid; wait $pid',
    ].join('\n');
    r = await run(
      'unshare',
      ['-m', '--propagation', 'private', '-p', '-f', '--kill-child', '--mount-proc', 'sh', '-c', script, 'sh', conf, process.execPath, await cli(), d.src, d.mnt, tarball],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(r.stdout.trim().split('\n'), ['x', 'data', '0'], 'created by root, owned by the user');
    assert.equal(isMounted(d.mnt), false);
  } finally {
    d.cleanup();
  }
});
