/**
 * Raw audit events, kept by the DuckDB backend as compressed blocks: the events of one write,
 * their JSON texts joined with U+001E (a character JSON text cannot hold unescaped), brotli at
 * quality 1, appended to segment files beside the database (SegmentFiles, below). An event
 * row points at its text with (raw_block, raw_pos); `raw_blocks` says where each block is.
 *
 * Why: a raw event is ~860 bytes of JSON; handing each one to DuckDB as a VARCHAR costs more
 * than everything else in a write together (DuckDB copies it into the WAL, then compresses it
 * again at checkpoint). One compressed block per write costs ~1.5 µs per event, runs on libuv's
 * thread pool, and takes ~80 bytes per event where DuckDB's own string compression took ~300.
 * Reads decompress whole blocks (~700 MB/s) and keep the last few in a small cache.
 */
import { closeSync, existsSync, fdatasync, fdatasyncSync, write, fstatSync, mkdirSync, openSync, readSync, readdirSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/** Between the texts of a block. JSON text holds no raw control character but blanks. */
export const RAW_SEP = '\u001e';

export const RAW_CODEC = 'br1';

const compress = promisify(zlib.brotliCompress);
const writeAsync = (fd: number, b: Uint8Array, off: number, len: number, pos: number) =>
  new Promise<number>((res, rej) => write(fd, b, off, len, pos, (e, n) => (e ? rej(e) : res(n))));
const fdatasyncAsync = promisify(fdatasync);
const decompress = promisify(zlib.brotliDecompress);

/** An output buffer size for zlib: between 64 KiB and 32 MiB. */
function chunkFor(n: number): number {
  return Math.min(32 * 1024 * 1024, Math.max(64 * 1024, n));
}

/** Compress the texts of one block (in the thread pool). */
export function encodeBlock(texts: readonly string[]): Promise<Buffer> {
  const input = Buffer.from(texts.join(RAW_SEP), 'utf8');
  return compress(input, {
    // One output buffer for the whole block: with zlib's default 16 KiB, every 16 KiB of output
    // waited for a turn of the event loop, and a busy loop made a block take ~110 ms (measured
    // in ingestion, for ~3.4 MB in and 80 KB out) instead of a few.
    chunkSize: chunkFor(input.length + 4096),
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 1,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.length,
    },
  });
}

/** The texts of a block, in the order they were written. */
export async function decodeBlock(data: Uint8Array, codec = RAW_CODEC): Promise<string[]> {
  if (codec !== RAW_CODEC) throw new Error(`store: raw block in unknown codec '${codec}'`);
  // Large output buffers for the same reason (texts compress ~10-40x).
  const buf = await decompress(data, { chunkSize: chunkFor(data.length * 32) });
  return buf.toString('utf8').split(RAW_SEP);
}

/** The last few decoded blocks, least recently used first out. */
export class BlockCache {
  private readonly blocks = new Map<bigint, string[]>();
  constructor(private readonly max = 8) {}

  get(id: bigint): string[] | undefined {
    const b = this.blocks.get(id);
    if (b !== undefined) {
      this.blocks.delete(id);
      this.blocks.set(id, b);
    }
    return b;
  }

  set(id: bigint, texts: string[]): void {
    this.blocks.delete(id);
    this.blocks.set(id, texts);
    while (this.blocks.size > this.max) this.blocks.delete(this.blocks.keys().next().value!);
  }

  delete(id: bigint): void {
    this.blocks.delete(id);
  }

  clear(): void {
    this.blocks.clear();
  }
}

/** Where a block's bytes are: segment file number, byte offset, length. */
export interface BlockPlace {
  segment: number;
  offset: number;
  length: number;
}

/**
 * Append-only segment files holding compressed blocks (`seg-<n>.blk` in one folder). Blocks
 * live here and not in a DuckDB BLOB column because DuckDB rewrites the whole row group a
 * checkpoint touches: with every block in one row group, each checkpoint rewrote all raw
 * events stored so far (measured: 217 ms at 60 MB of blocks, 3.5 s at 600 MB, growing).
 * A block is appended and made durable (fdatasync) before the rows pointing at it commit;
 * a crash in between leaves unreferenced bytes, never a dangling reference. A new segment is
 * started at open (never appending after a torn tail) and past `segmentMaxBytes`.
 */
export class SegmentFiles {
  private fd = -1;
  private segment = 0;
  private size = 0;
  private readonly readFds = new Map<number, number>();

  constructor(readonly dir: string, private readonly segmentMaxBytes = 256 * 1024 * 1024) {}

  static fileName(segment: number): string {
    return `seg-${String(segment).padStart(8, '0')}.blk`;
  }

  /** Segment numbers present in the folder. */
  segments(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).map((f) => /^seg-(\d+)\.blk$/.exec(f)?.[1]).filter((x): x is string => x !== undefined).map(Number).sort((a, b) => a - b);
  }

  /** Open for appending: a fresh segment after the highest present. */
  openForAppend(): void {
    mkdirSync(this.dir, { recursive: true });
    const have = this.segments();
    this.startSegment((have[have.length - 1] ?? -1) + 1);
  }

  private startSegment(n: number): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.segment = n;
    this.fd = openSync(path.join(this.dir, SegmentFiles.fileName(n)), 'a');
    this.size = fstatSync(this.fd).size;
  }

  /** Append one block durably; where it went. */
  append(data: Uint8Array): BlockPlace {
    const place = this.reserve(data.length);
    try {
      let done = 0;
      while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, place.offset + done);
      fdatasyncSync(this.fd);
    } catch (e) {
      this.abandon(place);
      throw e;
    }
    return place;
  }

  /**
   * The same on the thread pool, so that the write and its fdatasync overlap other work (the
   * store runs DuckDB's insert meanwhile). One append at a time (the store's writes are serial).
   */
  async appendAsync(data: Uint8Array): Promise<BlockPlace> {
    const place = this.reserve(data.length);
    const fd = this.fd;
    try {
      let done = 0;
      while (done < data.length) done += await writeAsync(fd, data, done, data.length - done, place.offset + done);
      await fdatasyncAsync(fd);
    } catch (e) {
      this.abandon(place);
      throw e;
    }
    return place;
  }

  /** After a failed append the segment's end is unknown: the next block starts a new segment. */
  private abandon(p: BlockPlace): void {
    if (p.segment === this.segment) {
      try { this.startSegment(this.segment + 1); } catch { this.fd = -1; }
    }
  }

  /** Room for `length` bytes at the end of the current segment (a new one past the limit). */
  private reserve(length: number): BlockPlace {
    if (this.fd < 0) throw new Error(`store: raw segments in ${this.dir} not open for writing`);
    if (this.size > 0 && this.size + length > this.segmentMaxBytes) this.startSegment(this.segment + 1);
    const place = { segment: this.segment, offset: this.size, length };
    this.size += length;
    return place;
  }

  /** The bytes of a block. */
  read(p: BlockPlace): Buffer {
    let fd = this.readFds.get(p.segment);
    if (fd === undefined) {
      fd = openSync(path.join(this.dir, SegmentFiles.fileName(p.segment)), 'r');
      this.readFds.set(p.segment, fd);
    }
    const buf = Buffer.allocUnsafe(p.length);
    let done = 0;
    while (done < p.length) {
      const n = readSync(fd, buf, done, p.length - done, p.offset + done);
      if (n === 0) throw new Error(`store: raw block cut short in ${SegmentFiles.fileName(p.segment)} at ${p.offset} (+${p.length})`);
      done += n;
    }
    return buf;
  }

  /** Delete the segments not in `keep` (never the one being appended to). */
  prune(keep: ReadonlySet<number>): number {
    let n = 0;
    for (const s of this.segments()) {
      if (keep.has(s) || (this.fd >= 0 && s === this.segment)) continue;
      const fd = this.readFds.get(s);
      if (fd !== undefined) { closeSync(fd); this.readFds.delete(s); }
      rmSync(path.join(this.dir, SegmentFiles.fileName(s)), { force: true });
      n++;
    }
    return n;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    for (const fd of this.readFds.values()) closeSync(fd);
    this.readFds.clear();
  }
}
