/**
 * Whether this process may register passthrough backing files at all, asked
 * once after INIT so that the first open does not find out.
 */
import { open, tryClose } from '../sys/index.js';
import { O_CLOEXEC, O_DIRECTORY, O_PATH } from '../sys/constants.js';
import * as fs from 'node:fs';
import type { BackingDevice } from './backing.js';

const CAP_SYS_ADMIN = 21n;

/** Whether this process holds CAP_SYS_ADMIN in its own user namespace (read from /proc, never a mounted path). */
export function hasCapSysAdmin(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
  } catch {
    return process.geteuid?.() === 0;
  }
}

/** Whether this process runs in the initial user namespace, where the kernel checks passthrough's capability. */
function inInitialUserNamespace(): boolean {
  try {
    return /^\s*0\s+0\s+4294967295\s*$/.test(fs.readFileSync('/proc/self/uid_map', 'utf8').trim());
  } catch {
    return true;
  }
}

/**
 * Whether the kernel will let this process register backing files:
 * CAP_SYS_ADMIN in the initial user namespace. Without it the session does
 * not ask for passthrough at INIT at all (granting the flag would still mark
 * the mount as stacked, for nothing).
 */
export function mayRegisterBackingFiles(): boolean {
  return hasCapSysAdmin() && inInitialUserNamespace();
}

/** Why `mayRegisterBackingFiles()` is false, as the log says it. */
export const NO_BACKING_PERMISSION = 'this process may not register backing files: that needs CAP_SYS_ADMIN in the initial user namespace';

/**
 * Registering a directory fails with EISDIR only after the kernel has checked
 * CAP_SYS_ADMIN (EPERM): a harmless probe. Returns why this process cannot use
 * passthrough, or undefined when it can.
 */
export function probeBackingPermission(device: BackingDevice): string | undefined {
  let fd = -1;
  try {
    fd = open('/', O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    const id = device.backingOpen(fd);
    device.backingClose(id);
    return undefined;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EISDIR') return undefined;
    if (code === 'EPERM') return NO_BACKING_PERMISSION;
    return `registering a backing file fails: ${(err as Error).message}`;
  } finally {
    if (fd >= 0) tryClose(fd);
  }
}
