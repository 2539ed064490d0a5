/**
 * The path layer's node table: node id ⇄ names (parent node + name), lookup
 * and open counts, and the tree lock that keeps a request's path valid while
 * it runs.
 */
import { ROOT_ID } from '../abi/constants.js';
import type { NodeId } from '../abi/types.js';

/** One name of a node: the directory holding it and the name in it. */
export interface NodeName {
  parent: PathNode;
  name: string;
}

/** A node the kernel knows (or that an open handle keeps alive). */
export class PathNode {
  /** The names it has; requests use the first. Empty for the root and for files unlinked while open. */
  readonly names: NodeName[] = [];
  /** Children known by name (directories only; created on first use). Changed only through setChild and deleteChild. */
  children: Map<string, PathNode> | undefined;
  /** Bumped whenever `children` changes: a listing encoded with the d_ino of known children is then out of date. */
  childrenVersion = 0;
  /** The kernel's lookup references. */
  lookups = 0;
  /** Open file handles on it (regular files and others opened with `open`/`create`). */
  readonly handles: number[] = [];
  /** Shared locks held by requests running on this node or below it. */
  readers = 0;
  /** An exclusive lock (rename, unlink, rmdir of this node) is held. */
  writer = false;
  /** Exclusive locks waiting for this node: new shared locks queue behind them. */
  writersWaiting = 0;
  /** Bumped on every change of the directory made through the mount; a listing taken before is then stale for READDIRPLUS. */
  changes = 0;
  /** Renamed to a hidden name because it was unlinked while open (`unlinkedOpen: 'hide'`). */
  hidden = false;

  /** The device of `ino`, when the filesystem gave one. */
  dev = 0;

  constructor(
    readonly id: NodeId,
    /** The filesystem's inode number (0: none given). */
    public ino: number,
    /** S_IFMT bits. */
    public type: number,
  ) {}

  get isRoot(): boolean {
    return this.id === ROOT_ID;
  }

  /** Records `node` as this directory's child `name`. */
  setChild(name: string, node: PathNode): void {
    (this.children ??= new Map()).set(name, node);
    this.childrenVersion++;
  }

  /** Forgets the child `name`, if it is `node`. */
  deleteChild(name: string, node: PathNode | undefined): void {
    const children = this.children;
    if (children !== undefined && children.get(name) === node && children.delete(name)) this.childrenVersion++;
  }
}

/** Paths of a node and of a name in a directory. */
export function pathOf(node: PathNode): string | null {
  if (node.isRoot) return '/';
  let first = node.names[0];
  if (!first) return null;
  if (first.parent.isRoot) return '/' + first.name;
  const parts: string[] = [first.name];
  let n = first.parent;
  while (!n.isRoot) {
    first = n.names[0];
    // A directory without a name (removed while something below was open): no path.
    if (!first) return null;
    parts.push(first.name);
    n = first.parent;
  }
  let s = '';
  for (let i = parts.length - 1; i >= 0; i--) s += '/' + parts[i];
  return s;
}

export function childPath(parentPath: string, name: string): string {
  return parentPath === '/' ? '/' + name : parentPath + '/' + name;
}

/** The nodes a shared lock on `node` covers: it and every ancestor through first names. */
function chain(node: PathNode): PathNode[] {
  const out: PathNode[] = [node];
  let n = node;
  while (!n.isRoot && n.names.length > 0) {
    n = n.names[0]!.parent;
    out.push(n);
  }
  return out;
}

/** Held locks, released once. */
export class Held {
  private done = false;
  constructor(private readonly lock: TreeLock, readonly shared: PathNode[], readonly exclusive: PathNode[]) {}
  release(): void {
    if (this.done) return;
    this.done = true;
    this.lock.releaseHeld(this);
  }
}

interface Waiter {
  /** The nodes asked for; their ancestors are found when granting (a rename may have moved them meanwhile). */
  nodes: PathNode[];
  exclusive: PathNode[];
  resolve: (h: Held) => void;
  /** Gives the wait up (the request was interrupted or ran past its deadline). */
  abandon?: () => void;
  signal?: AbortSignal;
}

/**
 * libfuse's tree lock, for one thread of asynchronous handlers: a request
 * holds a shared lock on its node(s) and their ancestors; a rename, unlink or
 * rmdir holds an exclusive lock on the node(s) it moves or removes, which is
 * granted once no request holds a shared lock on them (every request under a
 * directory holds one on it). Shared locks on a node that an exclusive one
 * waits for queue behind it, so renames are not starved; requests on other
 * paths are granted at once. A wait ends early when the request's signal
 * aborts (an interrupt, or its deadline): a handler that never settles then
 * holds up the renames of its ancestors until their own deadline, and
 * nothing else.
 */
export class TreeLock {
  private readonly waiting: Waiter[] = [];
  private exclusiveHeldOrWaiting = 0;

  /** No exclusive lock is held or waiting: a synchronous request needs no lock at all. */
  get quiet(): boolean {
    return this.exclusiveHeldOrWaiting === 0;
  }

  /** Takes shared locks on `nodes` (and their ancestors) without checking: only when `quiet`. */
  holdShared(nodes: PathNode[]): Held {
    const shared = nodes.flatMap(chain);
    for (const n of shared) n.readers++;
    return new Held(this, shared, []);
  }

  /**
   * Shared locks on `nodes` and their ancestors, and exclusive ones on
   * `exclusive`. Resolves when granted; rejects with the signal's reason if
   * `request.signal` (read only when the request must wait) aborts first.
   */
  acquire(nodes: PathNode[], exclusive: PathNode[] = [], request?: { readonly signal: AbortSignal }): Held | Promise<Held> {
    const shared = nodes.flatMap(chain);
    if (exclusive.length > 0) {
      this.exclusiveHeldOrWaiting++;
      for (const n of exclusive) n.writersWaiting++;
    }
    if (this.grantable(shared, exclusive)) return this.grant(shared, exclusive);
    const signal = request?.signal;
    if (signal?.aborted) {
      this.giveUp(exclusive);
      return Promise.reject(signal.reason);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { nodes, exclusive, resolve };
      if (signal) {
        w.signal = signal;
        w.abandon = () => {
          const i = this.waiting.indexOf(w);
          if (i < 0) return;
          this.waiting.splice(i, 1);
          this.giveUp(exclusive);
          reject(signal.reason);
          this.wake();
        };
        signal.addEventListener('abort', w.abandon, { once: true });
      }
      this.waiting.push(w);
    });
  }

  /** Takes back the marks of an exclusive request that stops waiting. */
  private giveUp(exclusive: PathNode[]): void {
    if (exclusive.length === 0) return;
    for (const n of exclusive) n.writersWaiting--;
    this.exclusiveHeldOrWaiting--;
  }

  private grantable(shared: PathNode[], exclusive: PathNode[]): boolean {
    for (const n of exclusive) if (n.readers > 0 || n.writer) return false;
    if (exclusive.length > 0) {
      // An exclusive request's own waiting marks do not hold it up.
      for (const n of shared) if (n.writer) return false;
    } else {
      for (const n of shared) if (n.writer || n.writersWaiting > 0) return false;
    }
    return true;
  }

  private grant(shared: PathNode[], exclusive: PathNode[]): Held {
    for (const n of exclusive) {
      n.writersWaiting--;
      n.writer = true;
    }
    for (const n of shared) n.readers++;
    return new Held(this, shared, exclusive);
  }

  releaseHeld(h: Held): void {
    for (const n of h.shared) n.readers--;
    if (h.exclusive.length > 0) {
      for (const n of h.exclusive) n.writer = false;
      this.exclusiveHeldOrWaiting--;
    }
    if (this.waiting.length > 0) this.wake();
  }

  private wake(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      const shared = w.nodes.flatMap(chain);
      if (this.grantable(shared, w.exclusive)) {
        this.waiting.splice(i, 1);
        if (w.abandon) w.signal!.removeEventListener('abort', w.abandon);
        w.resolve(this.grant(shared, w.exclusive));
      } else {
        i++;
      }
    }
  }
}
