/**
 * Whether this process may register passthrough backing files at all, asked
 * once after INIT so that the first open does not find out.
 */
import { open, tryClose } from '../sys/index.js';
import { O_CLOEXEC, O_DIRECTORY, O_PATH } from '../sys/constants.js';
import type { BackingDevice } from './backing.js';

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
    if (code === 'EPERM') return 'this process may not register backing files (it needs CAP_SYS_ADMIN in the initial user namespace)';
    return `registering a backing file fails: ${(err as Error).message}`;
  } finally {
    if (fd >= 0) tryClose(fd);
  }
}
