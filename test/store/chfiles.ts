/**
 * ClickHouse's column files (`*.bin`) are sequences of compressed blocks; LZ4 may encode part of
 * any string as a back-reference, so a byte search of the files alone can miss a stored value.
 * For byte-level checks, the blocks are decompressed here (LZ4 and uncompressed; the only methods
 * the test servers use) and searched with the files as they are.
 */
import { readFileSync } from 'node:fs';

const METHOD_NONE = 0x02;
const METHOD_LZ4 = 0x82;
const CHECKSUM = 16;
const HEADER = 9;

/** One LZ4 block (the raw block format, no frame) into `out`, which has its decompressed size. */
export function lz4Block(src: Buffer, out: Buffer): void {
  let i = 0;
  let o = 0;
  while (i < src.length) {
    const token = src[i++]!;
    let lit = token >> 4;
    if (lit === 15) for (let b = 255; b === 255 && i < src.length;) { b = src[i++]!; lit += b; }
    src.copy(out, o, i, i + lit);
    i += lit;
    o += lit;
    if (i >= src.length) break; // the last sequence has literals only
    const offset = src[i]! | (src[i + 1]! << 8);
    i += 2;
    let len = (token & 15) + 4;
    if ((token & 15) === 15) for (let b = 255; b === 255 && i < src.length;) { b = src[i++]!; len += b; }
    if (offset === 0 || offset > o) throw new Error(`lz4: bad offset ${offset} at output ${o}`);
    // Byte by byte: a match may overlap the bytes it produces.
    for (let k = 0; k < len; k++, o++) out[o] = out[o - offset]!;
  }
  if (o !== out.length) throw new Error(`lz4: produced ${o} bytes, expected ${out.length}`);
}

/** The decompressed contents of a ClickHouse `.bin` file, or undefined when it is not one. */
export function clickhouseBinContents(file: string): Buffer | undefined {
  let buf: Buffer;
  try { buf = readFileSync(file); } catch { return undefined; }
  const parts: Buffer[] = [];
  let p = 0;
  while (p < buf.length) {
    if (p + CHECKSUM + HEADER > buf.length) return undefined;
    const h = p + CHECKSUM;
    const method = buf[h]!;
    const compressed = buf.readUInt32LE(h + 1);
    const size = buf.readUInt32LE(h + 5);
    const body = buf.subarray(h + HEADER, h + compressed);
    if (compressed < HEADER || h + compressed > buf.length) return undefined;
    if (method === METHOD_NONE) parts.push(Buffer.from(body));
    else if (method === METHOD_LZ4) {
      const out = Buffer.alloc(size);
      lz4Block(body, out);
      parts.push(out);
    } else return undefined;
    p = h + compressed;
  }
  return Buffer.concat(parts);
}
