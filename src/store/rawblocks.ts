/**
 * Raw audit events, kept by the DuckDB backend as compressed blocks: the events of one write,
 * their JSON texts joined with U+001E (a character JSON text cannot hold unescaped), brotli at
 * quality 1. An event row points at its text with (raw_block, raw_pos).
 *
 * Why: a raw event is ~860 bytes of JSON; handing each one to DuckDB as a VARCHAR costs more
 * than everything else in a write together (DuckDB copies it into the WAL, then compresses it
 * again at checkpoint). One compressed block per write costs ~1.5 µs per event, runs on libuv's
 * thread pool, and takes ~80 bytes per event where DuckDB's own string compression took ~300.
 * Reads decompress whole blocks (~700 MB/s) and keep the last few in a small cache.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/** Between the texts of a block. JSON text holds no raw control character but blanks. */
export const RAW_SEP = '\u001e';

export const RAW_CODEC = 'br1';

const compress = promisify(zlib.brotliCompress);
const decompress = promisify(zlib.brotliDecompress);

/** Compress the texts of one block (in the thread pool). */
export function encodeBlock(texts: readonly string[]): Promise<Buffer> {
  const input = Buffer.from(texts.join(RAW_SEP), 'utf8');
  return compress(input, {
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
  const buf = await decompress(data);
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
