/**
 * Crash-safe small-file writes (checkpoints, spool positions): write a temp file beside the
 * target, fsync it, rename it over the target, fsync the directory. A crash at any moment
 * leaves either the old or the new content, never a torn mix.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

let tmpSeq = 0;

export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${++tmpSeq}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}

export function writeFileAtomicSync(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}-${++tmpSeq}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  try {
    const d = openSync(path.dirname(file), 'r');
    try { fsyncSync(d); } finally { closeSync(d); }
  } catch { /* some file systems cannot fsync a directory */ }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  } catch { /* some file systems cannot fsync a directory */ }
}
