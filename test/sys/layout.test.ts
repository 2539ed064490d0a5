/**
 * The per-architecture tables in src/sys/arch.ts, and every constant in
 * src/sys/constants.ts, against the C headers: a generated C file holds each
 * number the binding relies on (offsetof/sizeof of every struct member it
 * reads or writes, the __NR_* numbers it passes to syscall(2), the constants)
 * as an initialized array in a section of its own.
 *
 * For this machine's architecture the system compiler builds and runs it; for
 * the other supported architecture a cross compiler, when installed, builds
 * an object file and the values are read out of its ELF section. Running the
 * native program also reads its own section, so the ELF reading the cross
 * check relies on is itself checked on every run.
 */

import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARCH_LAYOUTS, archLayoutFor, arch } from '../../src/sys/arch.js';
import type { ArchLayout, Field } from '../../src/sys/arch.js';
import * as constants from '../../src/sys/constants.js';
import { structsFor } from '../../src/sys/structs.js';
import type { Stat, StatFs, StatxResult } from '../../src/sys/structs.js';

/** One number to compare: how C computes it, the table's value, and the macro whose absence means older headers. */
interface Check {
  key: string;
  expr: string;
  expected: number;
  requires?: string;
}

// Members newer than some headers in use (statx's grew over time; struct
// fuse_backing_map is Linux 6.9): checked only where the headers define them.
const MEMBER_REQUIRES: Record<string, string> = {
  'struct statx.stx_mnt_id': 'STATX_MNT_ID',
  'struct statx.stx_dio_mem_align': 'STATX_DIOALIGN',
  'struct statx.stx_dio_offset_align': 'STATX_DIOALIGN',
  'struct statx.stx_subvol': 'STATX_SUBVOL',
};
const STRUCT_REQUIRES: Record<string, string> = {
  'struct fuse_backing_map': 'FUSE_DEV_IOC_BACKING_OPEN',
};

function isStruct(value: unknown): value is { cType: string; bytes: number; fields: Record<string, Field> } {
  return typeof value === 'object' && value !== null && 'cType' in value && 'fields' in value;
}

/** Every number in `layout`, and every constant with its value on that architecture, as checks. */
function checksFor(layout: ArchLayout): Check[] {
  const checks: Check[] = [];
  for (const struct of Object.values(layout).filter(isStruct)) {
    const structRequires = STRUCT_REQUIRES[struct.cType];
    checks.push({ key: `sizeof(${struct.cType})`, expr: `sizeof(${struct.cType})`, expected: struct.bytes, requires: structRequires });
    for (const [member, field] of Object.entries(struct.fields)) {
      const requires = MEMBER_REQUIRES[`${struct.cType}.${member}`] ?? structRequires;
      checks.push({ key: `offsetof(${struct.cType}, ${member})`, expr: `offsetof(${struct.cType}, ${member})`, expected: field.offset, requires });
      checks.push({ key: `sizeof(${struct.cType}.${member})`, expr: `sizeof(((${struct.cType} *)0)->${member})`, expected: field.size, requires });
    }
  }
  for (const [name, nr] of Object.entries(layout.syscalls)) {
    checks.push({ key: `__NR_${name}`, expr: `__NR_${name}`, expected: nr, requires: `__NR_${name}` });
  }
  // The constants module holds this machine's values; the table gives the
  // other architecture's where they differ.
  const values: Record<string, number> = {};
  for (const [name, value] of Object.entries(constants)) if (typeof value === 'number') values[name] = value;
  Object.assign(values, layout.openFlags);
  for (const [name, value] of Object.entries(values)) {
    checks.push({ key: name, expr: name, expected: value, requires: name });
  }
  return checks;
}

const SECTION = '.fusekit_layout';
// A value no check can have, standing for "these headers lack it".
const ABSENT = -(2n ** 63n);

function cSource(checks: Check[]): string {
  const lines = [
    '#define _GNU_SOURCE',
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#include <limits.h>',
    '#include <fcntl.h>',
    '#include <unistd.h>',
    '#include <dirent.h>',
    '#include <poll.h>',
    '#include <sys/stat.h>',
    '#include <sys/statfs.h>',
    '#include <sys/mount.h>',
    '#include <sys/resource.h>',
    '#include <sys/syscall.h>',
    '#include <sys/xattr.h>',
    '#include <linux/fuse.h>',
    '',
    `__attribute__((section("${SECTION}"), used)) const long long fusekit_layout[${checks.length}] = {`,
  ];
  for (const check of checks) {
    const value = `(long long)(${check.expr}),`;
    if (check.requires === undefined) lines.push(`  ${value}`);
    else lines.push(`#ifdef ${check.requires}`, `  ${value}`, '#else', '  LLONG_MIN,', '#endif');
  }
  lines.push(
    '};',
    '',
    '#ifdef FUSEKIT_PRINT',
    'int main(void) {',
    `  for (size_t i = 0; i < ${checks.length}; i++) printf("%lld\\n", fusekit_layout[i]);`,
    '  return 0;',
    '}',
    '#endif',
    '',
  );
  return lines.join('\n');
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** The ELF machine and the contents of one section of a 64-bit little-endian ELF file. */
function readElfSection(file: Buffer, name: string): { machine: number; data: Buffer } {
  assert.equal(file.toString('latin1', 0, 4), '\x7fELF');
  assert.equal(file[4], 2, 'ELFCLASS64');
  assert.equal(file[5], 1, 'ELFDATA2LSB');
  const machine = file.readUInt16LE(0x12);
  const shoff = Number(file.readBigUInt64LE(0x28));
  const shentsize = file.readUInt16LE(0x3a);
  const shnum = file.readUInt16LE(0x3c);
  const shstrndx = file.readUInt16LE(0x3e);
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: file.readUInt32LE(at), offset: Number(file.readBigUInt64LE(at + 0x18)), size: Number(file.readBigUInt64LE(at + 0x20)) };
  };
  const names = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const start = names.offset + h.name;
    if (file.toString('latin1', start, file.indexOf(0, start)) === name) return { machine, data: file.subarray(h.offset, h.offset + h.size) };
  }
  throw new Error(`no section ${name}`);
}

function sectionValues(data: Buffer, count: number): bigint[] {
  assert.equal(data.length, count * 8);
  return Array.from({ length: count }, (_, i) => data.readBigInt64LE(i * 8));
}

/** A compiler on PATH, or undefined. */
function findCompiler(name: string): string | undefined {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0 ? name : undefined;
}

/** Compares the values C gave with the checks; unchecked ones (older headers) are reported through a skipped subtest. */
async function compare(t: TestContext, checks: Check[], values: bigint[], headers: string): Promise<void> {
  const mismatches: string[] = [];
  const absent: string[] = [];
  checks.forEach((check, i) => {
    if (values[i] === ABSENT) absent.push(check.key);
    else if (values[i] !== BigInt(check.expected)) mismatches.push(`${check.key}: table ${check.expected}, ${headers} ${values[i]}`);
  });
  assert.deepEqual(mismatches, []);
  assert.ok(absent.length < checks.length / 4, `most values missing from ${headers}: ${absent.join(', ')}`);
  if (absent.length > 0) {
    await t.test(`not in ${headers}, so not checked there`, (st) => st.skip(absent.join(', ')));
  }
}

/** For each table: the gcc that builds for it, its ELF machine number, and the Debian package with that gcc. */
const TARGETS: Record<string, { compiler: string; machine: number; apt: string }> = {
  x64: { compiler: 'x86_64-linux-gnu-gcc', machine: EM_X86_64, apt: 'gcc-x86-64-linux-gnu' },
  arm64: { compiler: 'aarch64-linux-gnu-gcc', machine: EM_AARCH64, apt: 'gcc-aarch64-linux-gnu' },
};

function withWorkDir<T>(fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusekit-layout-'));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the table for this machine matches the C headers (native compiler)', async (t) => {
  const cc = findCompiler('cc');
  if (cc === undefined) {
    t.skip('no C compiler (cc) on PATH');
    return;
  }
  const checks = checksFor(arch);
  const { printed, inSection, machine } = withWorkDir((dir) => {
    fs.writeFileSync(path.join(dir, 'layout.c'), cSource(checks));
    execFileSync(cc, ['-DFUSEKIT_PRINT', '-o', path.join(dir, 'layout'), path.join(dir, 'layout.c')], { stdio: 'pipe' });
    const out = execFileSync(path.join(dir, 'layout'), { encoding: 'utf8' });
    const elf = readElfSection(fs.readFileSync(path.join(dir, 'layout')), SECTION);
    return { printed: out.trim().split('\n').map(BigInt), inSection: sectionValues(elf.data, checks.length), machine: elf.machine };
  });
  assert.equal(machine, TARGETS[process.arch]!.machine);
  assert.deepEqual(inSection, printed, 'the ELF section reader sees what the program prints');
  await compare(t, checks, printed, `this machine's headers`);
});

for (const [nodeArch, layout] of Object.entries(ARCH_LAYOUTS)) {
  if (nodeArch === process.arch) continue;
  const cross = TARGETS[nodeArch]!;
  test(`the ${layout.name} table matches the C headers (${cross.compiler})`, async (t) => {
    const cc = findCompiler(cross.compiler);
    if (cc === undefined) {
      t.skip(`no ${cross.compiler}: the ${layout.name} table is not checked here (apt-get install ${cross.apt})`);
      return;
    }
    const checks = checksFor(layout);
    const elf = withWorkDir((dir) => {
      fs.writeFileSync(path.join(dir, 'layout.c'), cSource(checks));
      execFileSync(cc, ['-c', '-o', path.join(dir, 'layout.o'), path.join(dir, 'layout.c')], { stdio: 'pipe' });
      return readElfSection(fs.readFileSync(path.join(dir, 'layout.o')), SECTION);
    });
    assert.equal(elf.machine, cross.machine);
    await compare(t, checks, sectionValues(elf.data, checks.length), `${cross.compiler}'s headers`);
  });
}

// Structs filled in by C with values that reach every width and sign the
// decoders handle (32-bit st_nlink and st_blksize on arm64, negative times,
// 64-bit values up to 2^53), so each table's decoders can be run on bytes its
// own compiler laid out.
const IMAGES_C = `#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/statfs.h>
__attribute__((section(".fusekit_stat"), used)) const struct stat fusekit_stat = {
  .st_dev = 0x123456789abcULL, .st_ino = 9007199254740991ULL, .st_mode = 0100644, .st_nlink = 4000000000U,
  .st_uid = 4294967294U, .st_gid = 3000000000U, .st_rdev = 0x80001ULL, .st_size = 4503599627370497LL,
  .st_blksize = 65536, .st_blocks = 8796093022208LL,
  .st_atim = { 1700000000, 123456789 }, .st_mtim = { -86400, 999999999 }, .st_ctim = { 4102444800, 1 },
};
__attribute__((section(".fusekit_statx"), used)) const struct statx fusekit_statx = {
  .stx_mask = 0x7ff, .stx_blksize = 4096, .stx_attributes = 0x8000000000000020ULL, .stx_nlink = 3,
  .stx_uid = 4294967294U, .stx_gid = 7, .stx_mode = 0120777, .stx_ino = 123456789012345ULL, .stx_size = 42,
  .stx_blocks = 8, .stx_attributes_mask = 0xffffffffffffffffULL,
  .stx_atime = { -5, 7 }, .stx_btime = { 1, 2 }, .stx_ctime = { 3, 4 }, .stx_mtime = { 5, 999999999 },
  .stx_rdev_major = 259, .stx_rdev_minor = 1048575, .stx_dev_major = 8, .stx_dev_minor = 1,
};
__attribute__((section(".fusekit_statfs"), used)) const struct statfs fusekit_statfs = {
  .f_type = 0xef53, .f_bsize = 4096, .f_blocks = 1ULL << 40, .f_bfree = 2, .f_bavail = 3, .f_files = 4,
  .f_ffree = 5, .f_namelen = 255, .f_frsize = 4096, .f_flags = 0x1026,
};
`;

const IMAGE_STAT: Stat = {
  dev: 0x123456789abc, ino: 2 ** 53 - 1, mode: 0o100644, nlink: 4_000_000_000, uid: 4_294_967_294, gid: 3_000_000_000,
  rdev: 0x80001, size: 2 ** 52 + 1, blksize: 65536, blocks: 8_796_093_022_208,
  atimeSec: 1_700_000_000, atimeNsec: 123_456_789, mtimeSec: -86400, mtimeNsec: 999_999_999, ctimeSec: 4_102_444_800, ctimeNsec: 1,
};

const IMAGE_STATX: StatxResult = {
  mask: 0x7ff, blksize: 4096, attributes: 0x8000000000000020n, nlink: 3, uid: 4_294_967_294, gid: 7, mode: 0o120777,
  ino: 123_456_789_012_345, size: 42, blocks: 8, attributesMask: 0xffffffffffffffffn,
  atime: { sec: -5, nsec: 7 }, btime: { sec: 1, nsec: 2 }, ctime: { sec: 3, nsec: 4 }, mtime: { sec: 5, nsec: 999_999_999 },
  rdevMajor: 259, rdevMinor: 1_048_575, devMajor: 8, devMinor: 1, mntId: 0n, dioMemAlign: 0, dioOffsetAlign: 0, subvol: 0n,
};

const IMAGE_STATFS: StatFs = {
  type: 0xef53, bsize: 4096, blocks: 2 ** 40, bfree: 2, bavail: 3, files: 4, ffree: 5, namelen: 255, frsize: 4096, flags: 0x1026,
};

for (const [nodeArch, layout] of Object.entries(ARCH_LAYOUTS)) {
  const native = nodeArch === process.arch;
  const target = TARGETS[nodeArch]!;
  const compiler = native ? 'cc' : target.compiler;
  test(`the ${layout.name} decoders read the structs ${compiler} lays out`, (t) => {
    const cc = findCompiler(compiler);
    if (cc === undefined) {
      t.skip(native ? 'no C compiler (cc) on PATH' : `no ${compiler}: the ${layout.name} decoders are not checked here (apt-get install ${target.apt})`);
      return;
    }
    const object = withWorkDir((dir) => {
      fs.writeFileSync(path.join(dir, 'images.c'), IMAGES_C);
      execFileSync(cc, ['-c', '-o', path.join(dir, 'images.o'), path.join(dir, 'images.c')], { stdio: 'pipe' });
      return fs.readFileSync(path.join(dir, 'images.o'));
    });
    const image = (name: string, bytes: number): Buffer => {
      const { machine, data } = readElfSection(object, name);
      assert.equal(machine, target.machine);
      assert.equal(data.length, bytes, `${name} is sizeof the struct`);
      return data;
    };
    const structs = structsFor(layout);
    image('.fusekit_stat', layout.stat.bytes).copy(structs.statBuf);
    assert.deepEqual(structs.decodeStat(), IMAGE_STAT);
    image('.fusekit_statx', layout.statx.bytes).copy(structs.statxBuf);
    assert.deepEqual(structs.decodeStatx(), IMAGE_STATX);
    image('.fusekit_statfs', layout.statfs.bytes).copy(structs.statfsBuf);
    assert.deepEqual(structs.decodeStatfs(), IMAGE_STATFS);
  });
}

test('the tables differ where the ABIs do, and only there', () => {
  const [x64, arm64] = [ARCH_LAYOUTS.x64!, ARCH_LAYOUTS.arm64!];
  assert.notDeepEqual(x64.stat, arm64.stat);
  assert.notDeepEqual(x64.syscalls, arm64.syscalls);
  assert.notDeepEqual(x64.openFlags, arm64.openFlags);
  for (const key of ['timespec', 'statfs', 'statx', 'statxTimestamp', 'dirent64', 'pollfd', 'rlimit', 'fuseBackingMap'] as const) {
    assert.deepEqual(x64[key], arm64[key], key);
  }
});

test('the sys layer refuses any other platform or architecture in one sentence', () => {
  assert.equal(archLayoutFor('linux', 'x64'), ARCH_LAYOUTS.x64);
  assert.equal(archLayoutFor('linux', 'arm64'), ARCH_LAYOUTS.arm64);
  assert.throws(() => archLayoutFor('linux', 'riscv64'), { message: 'fusekit supports Linux on x86-64 and arm64; this is linux on riscv64.' });
  assert.throws(() => archLayoutFor('darwin', 'arm64'), { message: 'fusekit supports Linux on x86-64 and arm64; this is darwin on arm64.' });
  assert.throws(() => archLayoutFor('linux', 'toString'), { message: /this is linux on toString/ });

  // Importing the layer is what fails, before glibc is loaded.
  const url = new URL('../../src/sys/index.js', import.meta.url).href;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    Object.defineProperty(process, 'arch', { value: 's390x' });
    try { await import(${JSON.stringify(url)}); console.log('imported'); } catch (err) { console.log(err.message); }
  `], { encoding: 'utf8' });
  assert.equal(child.stdout, 'fusekit supports Linux on x86-64 and arm64; this is linux on s390x.\n');
});
