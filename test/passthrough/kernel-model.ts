/**
 * KernelIoModel: an executable model of the kernel's per-inode I/O mode
 * (Linux 6.18 fs/fuse/iomode.c, the mmap part of file.c, the backing id map
 * of backing.c), for testing servers without a mount. It answers what the
 * kernel does with an OPEN/CREATE reply, a release(2) of a file and a
 * MAP_SHARED mmap, including the parts the server never sees.
 *
 * Modelled: `fi->iocachectr`, `fi->fb` (the inode's backing object),
 * `ff->iomode` per file, the idr of backing ids (ids 1, 2, 3 … never reused),
 * backing objects by identity (two ids for the same file are two objects), a
 * FOPEN_DIRECT_IO file's first shared mmap taking the cached mode, and the
 * kernel dropping its counts before it sends RELEASE (release() returns the
 * RELEASE for the caller to deliver whenever it likes).
 *
 * Assumed: passthrough negotiated, FUSE_DIRECT_IO_ALLOW_MMAP negotiated (else a
 * shared mmap of a direct file is simply ENODEV and changes nothing), no
 * parallel direct writes in flight (they only make cached opens wait), and
 * every backing file opens (the backing file's own permission errors are not
 * modelled). The file's access mode is kept but, as in the kernel, plays no
 * part in the mode rules.
 */
import { Fopen } from '../../src/abi/constants.js';

/** iomode.c FOPEN_PASSTHROUGH_MASK: the only flags allowed together with FOPEN_PASSTHROUGH. */
export const FOPEN_PASSTHROUGH_MASK = Fopen.PASSTHROUGH | Fopen.DIRECT_IO | Fopen.PARALLEL_DIRECT_WRITES | Fopen.NOFLUSH;

/** `struct fuse_backing`: compared by identity, never by the file it names. */
export interface BackingObject {
  readonly serial: number;
  readonly id: number;
}

export type Access = 'read-only' | 'read-write';

/** `ff->iomode`. */
export type FileIoMode = 'none' | 'cached' | 'uncached';

export interface KernelFile {
  readonly file: number;
  readonly inode: number;
  /** The server's handle, sent back in RELEASE. */
  readonly fh: number;
  readonly access: Access;
  readonly openFlags: number;
  iomode: FileIoMode;
  /** `ff->passthrough`: set for a passthrough file (it keeps its own reference). */
  readonly backing: BackingObject | undefined;
  sharedMmap: boolean;
}

/** A RELEASE the kernel has queued for the server. */
export interface KernelRelease {
  readonly inode: number;
  readonly fh: number;
}

export interface OpenReplyModel {
  openFlags: number;
  /** `fuse_open_out.backing_id`, read only with FOPEN_PASSTHROUGH. */
  backingId: number;
}

export type OpenOutcome =
  | { ok: true; file: number }
  /** open(2) failed with EIO; `cause` is the internal errno; the kernel queued RELEASE for `fh`. */
  | { ok: false; errno: 'EIO'; cause: string; release: KernelRelease };

/** ETXTBSY only if the inode entered passthrough while the mmap waited for parallel writes (not reachable here). */
export type MmapOutcome = 'ok' | 'ENODEV' | 'ETXTBSY';

export class KernelModelError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

interface InodeModel {
  iocachectr: number;
  fb: BackingObject | undefined;
}

export class KernelIoModel {
  private readonly idr = new Map<number, BackingObject>();
  private readonly inodes = new Map<number, InodeModel>();
  private readonly files = new Map<number, KernelFile>();
  private nextId = 1;
  private nextSerial = 1;
  private nextFile = 1;

  // ---- device ioctls (backing.c) ----

  /** FUSE_DEV_IOC_BACKING_OPEN: a new object and a new id, even for a file registered before. */
  backingOpen(): number {
    const id = this.nextId++;
    this.idr.set(id, { serial: this.nextSerial++, id });
    return id;
  }

  /** FUSE_DEV_IOC_BACKING_CLOSE: drops the id; objects still used by inodes or files live on. */
  backingClose(id: number): void {
    if (id <= 0) throw new KernelModelError('EINVAL', `backing id ${id}`);
    if (!this.idr.delete(id)) throw new KernelModelError('ENOENT', `backing id ${id} is not registered`);
  }

  get registeredIds(): number[] {
    return [...this.idr.keys()];
  }

  // ---- open (file.c fuse_finish_open → iomode.c fuse_file_io_open) ----

  open(inode: number, fh: number, reply: OpenReplyModel, access: Access = 'read-write'): OpenOutcome {
    const fi = this.inodeModel(inode);
    let flags = reply.openFlags;
    const fail = (cause: string): OpenOutcome => {
      // Any failure is EIO for the user; fuse_sync_release sends RELEASE for the server's fh.
      this.dropIfIdle(inode);
      return { ok: false, errno: 'EIO', cause, release: { inode, fh } };
    };
    // Step 1: an inode in passthrough accepts only passthrough opens.
    if (fi.fb !== undefined && !(flags & Fopen.PASSTHROUGH)) return fail('EINVAL: inode is in passthrough, reply is not');
    // Step 2.
    if (!(flags & Fopen.DIRECT_IO)) flags &= ~Fopen.PARALLEL_DIRECT_WRITES;
    let iomode: FileIoMode;
    let backing: BackingObject | undefined;
    if (flags & Fopen.DIRECT_IO && !(flags & Fopen.PASSTHROUGH)) {
      // Step 3: direct I/O without passthrough takes no mode.
      iomode = 'none';
    } else if (flags & Fopen.PASSTHROUGH) {
      // Step 4: fuse_file_passthrough_open.
      if (flags & ~FOPEN_PASSTHROUGH_MASK) return fail(`EINVAL: flags 0x${(flags & ~FOPEN_PASSTHROUGH_MASK).toString(16)} not allowed with passthrough`);
      if (reply.backingId <= 0) return fail(`EINVAL: backing id ${reply.backingId}`);
      const fb = this.idr.get(reply.backingId);
      if (fb === undefined) return fail(`ENOENT: backing id ${reply.backingId} is not registered`);
      // fuse_inode_uncached_io_start(fi, fb)
      if (fi.fb !== undefined && fi.fb !== fb) return fail(`EBUSY: inode holds backing id ${fi.fb.id}'s object, reply names id ${fb.id}`);
      if (fi.iocachectr > 0) return fail(`ETXTBSY: inode has ${fi.iocachectr} cached users`);
      fi.iocachectr--;
      if (fi.fb === undefined) fi.fb = fb;
      iomode = 'uncached';
      backing = fb;
    } else {
      // Step 5: fuse_file_cached_io_open.
      const err = this.cachedIoStart(fi);
      if (err) return fail(err);
      iomode = 'cached';
    }
    const file = this.nextFile++;
    this.files.set(file, { file, inode, fh, access, openFlags: flags, iomode, backing, sharedMmap: false });
    return { ok: true, file };
  }

  /** fuse_file_cached_io_open without the file bookkeeping; returns the internal errno on refusal. */
  private cachedIoStart(fi: InodeModel): string | undefined {
    // The kernel waits here while only parallel direct writes hold the inode uncached; not modelled.
    if (fi.iocachectr < 0 && fi.fb === undefined) throw new Error('KernelIoModel: uncached inode without backing (parallel DIO is not modelled)');
    if (fi.fb !== undefined) return `ETXTBSY: inode is in passthrough (backing id ${fi.fb.id})`;
    fi.iocachectr++;
    return undefined;
  }

  // ---- release (iomode.c fuse_file_io_release, run before RELEASE is sent) ----

  /** The last close of `file` (unmapping it too). Returns the RELEASE the kernel queues for the server. */
  release(file: number): KernelRelease {
    const ff = this.fileModel(file);
    const fi = this.inodeModel(ff.inode);
    if (ff.iomode === 'uncached') {
      fi.iocachectr++;
      if (fi.iocachectr === 0) fi.fb = undefined; // the inode's reference to the backing object goes
    } else if (ff.iomode === 'cached') {
      fi.iocachectr--;
    }
    this.files.delete(file);
    this.dropIfIdle(ff.inode);
    return { inode: ff.inode, fh: ff.fh };
  }

  // ---- mmap (file.c fuse_file_mmap), MAP_SHARED ----

  mmapShared(file: number): MmapOutcome {
    const ff = this.fileModel(file);
    const fi = this.inodeModel(ff.inode);
    // A passthrough file maps the backing file; any other file of a passthrough inode cannot be mapped.
    if (ff.backing !== undefined) return 'ok';
    if (fi.fb !== undefined) return 'ENODEV';
    if (ff.openFlags & Fopen.DIRECT_IO) {
      // First shared mmap of a direct file: the inode becomes cached until the file is released.
      if (ff.iomode === 'none') {
        if (this.cachedIoStart(fi) !== undefined) return 'ETXTBSY';
        ff.iomode = 'cached';
      }
      ff.sharedMmap = true;
      return 'ok';
    }
    ff.sharedMmap = true; // plain page-cache mapping of a cached file
    return 'ok';
  }

  // ---- inspection ----

  inode(inode: number): { iocachectr: number; backingId: number | undefined; backing: BackingObject | undefined } {
    const fi = this.inodes.get(inode);
    return { iocachectr: fi?.iocachectr ?? 0, backingId: fi?.fb?.id, backing: fi?.fb };
  }

  file(file: number): Readonly<KernelFile> | undefined {
    return this.files.get(file);
  }

  openFiles(): Readonly<KernelFile>[] {
    return [...this.files.values()];
  }

  /** The kernel's WARN_ONs as assertions: counters agree with the files. Throws on violation. */
  checkInvariants(): void {
    const seen = new Set<number>();
    for (const f of this.files.values()) seen.add(f.inode);
    for (const ino of this.inodes.keys()) seen.add(ino);
    for (const ino of seen) {
      const fi = this.inodeModel(ino);
      let cached = 0;
      let uncached = 0;
      for (const f of this.files.values()) {
        if (f.inode !== ino) continue;
        if (f.iomode === 'cached') cached++;
        if (f.iomode === 'uncached') {
          uncached++;
          if (f.backing !== fi.fb) throw new Error(`KernelIoModel: inode ${ino}: passthrough file ${f.file} uses another backing object than the inode`);
        }
      }
      if (cached > 0 && uncached > 0) throw new Error(`KernelIoModel: inode ${ino} has cached and uncached files`);
      if (fi.iocachectr !== cached - uncached) throw new Error(`KernelIoModel: inode ${ino}: iocachectr ${fi.iocachectr}, files say ${cached - uncached}`);
      if ((fi.fb !== undefined) !== uncached > 0) throw new Error(`KernelIoModel: inode ${ino}: backing object ${fi.fb ? 'set' : 'unset'} with ${uncached} passthrough files`);
    }
  }

  private inodeModel(inode: number): InodeModel {
    let fi = this.inodes.get(inode);
    if (!fi) this.inodes.set(inode, (fi = { iocachectr: 0, fb: undefined }));
    return fi;
  }

  private dropIfIdle(inode: number): void {
    const fi = this.inodes.get(inode);
    if (fi && fi.iocachectr === 0 && fi.fb === undefined) this.inodes.delete(inode);
  }

  private fileModel(file: number): KernelFile {
    const ff = this.files.get(file);
    if (!ff) throw new Error(`KernelIoModel: file ${file} is not open`);
    return ff;
  }
}
