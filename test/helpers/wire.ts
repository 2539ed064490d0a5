/**
 * Requests as the kernel writes them, built byte by byte for tests: the
 * little-endian field helpers and a complete request with its fuse_in_header.
 */

export function le16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}

export function le32(n: number): number[] {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return [...b];
}

export function le64(n: number | bigint): number[] {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(n)));
  return [...b];
}

/** A NUL-terminated UTF-8 name. */
export function str(s: string): number[] {
  return [...Buffer.from(s, 'utf8'), 0];
}

export interface RequestFields {
  unique?: bigint;
  nodeid?: number | bigint;
  uid?: number;
  gid?: number;
  pid?: number;
  extlen?: number;
}

/** A complete request: fuse_in_header (len computed) followed by `body`. */
export function request(opcode: number, body: number[], o: RequestFields = {}): Buffer {
  return Buffer.from([
    ...le32(40 + body.length), // len
    ...le32(opcode), // opcode
    ...le64(o.unique ?? 0x10n), // unique
    ...le64(o.nodeid ?? 1), // nodeid
    ...le32(o.uid ?? 1000), // uid
    ...le32(o.gid ?? 1001), // gid
    ...le32(o.pid ?? 4242), // pid
    ...le16(o.extlen ?? 0), // total_extlen
    ...le16(0), // padding
    ...body,
  ]);
}

/** A reply as written: fuse_out_header fields and the body after it. */
export interface ParsedReply {
  len: number;
  /** 0 or a negative errno. */
  error: number;
  unique: bigint;
  body: Buffer;
}

export function parseReply(b: Buffer): ParsedReply {
  return { len: b.readUInt32LE(0), error: b.readInt32LE(4), unique: b.readBigUInt64LE(8), body: b.subarray(16) };
}
