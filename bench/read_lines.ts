/**
 * The one way the audit benchmarks read their input, so that `json_parse` and `detect` pay
 * exactly the same for I/O, decoding and splitting and their ratio isolates the engine.
 *
 * "Read the whole file, then split" in spirit: the file is read in large blocks (64 MiB), each
 * block is decoded to one string and split on `\n` with indexOf/slice. It cannot literally be
 * one string: a 1 GB file is over V8's maximum string length (~512 M one-byte chars), and
 * holding it all would also make peak RSS measure the file rather than the engine. Blocks this
 * size keep the per-line cost identical to a whole-file read (readline, by comparison, costs
 * ~25% of JSON.parse throughput; see shared/ENVIRONMENT.md).
 */
import { closeSync, openSync, readSync } from 'node:fs';

export const BLOCK_BYTES = 64 << 20;

/** Calls `onLine` for every line (without its `\n`; empty lines included), 1-based numbers. */
export function forEachLine(file: string, onLine: (line: string, lineNo: number) => void): { bytes: number; lines: number } {
  const fd = openSync(file, 'r');
  let buf = Buffer.allocUnsafe(BLOCK_BYTES);
  let filled = 0;
  let bytes = 0;
  let lineNo = 0;
  try {
    for (;;) {
      if (filled === buf.length) {
        // One line longer than a block: grow rather than cut it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const n = readSync(fd, buf, filled, buf.length - filled, null);
      const end = filled + n;
      bytes += n;
      if (n === 0) {
        // End of file: what is left is a last line without a newline.
        if (end > 0) onLine(buf.toString('utf8', 0, end), ++lineNo);
        break;
      }
      const nl = buf.lastIndexOf(0x0a, end - 1);
      if (nl < 0) {
        filled = end;
        continue;
      }
      // Every line before the last newline of the block is complete.
      const text = buf.toString('utf8', 0, nl);
      let start = 0;
      for (;;) {
        const i = text.indexOf('\n', start);
        if (i < 0) {
          onLine(text.slice(start), ++lineNo);
          break;
        }
        onLine(text.slice(start, i), ++lineNo);
        start = i + 1;
      }
      buf.copy(buf, 0, nl + 1, end);
      filled = end - nl - 1;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes, lines: lineNo };
}
