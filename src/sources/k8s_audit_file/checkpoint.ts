/**
 * Tail checkpoints: per file fingerprint, the byte offset (and line number) up to which every
 * line has been acknowledged downstream. Written crash-safely (temp file, fsync, rename) and
 * versioned; an unreadable or foreign-version file is set aside (renamed `.bad`) and reading
 * starts over per `start_at`, with a warning.
 */
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../../util/atomic.ts';

export const CHECKPOINT_VERSION = 1;

export interface FileCheckpoint {
  path: string;
  offset: number;
  line: number;
  /** ms since the epoch when the file was last seen. */
  seenMs: number;
}

export interface CheckpointFile {
  version: number;
  files: Record<string, FileCheckpoint>;
}

export function loadCheckpoints(file: string, warn: (msg: string) => void): Map<string, FileCheckpoint> {
  const out = new Map<string, FileCheckpoint>();
  if (!existsSync(file)) return out;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as CheckpointFile;
    if (v.version !== CHECKPOINT_VERSION || typeof v.files !== 'object' || v.files === null) throw new Error(`unsupported version ${String(v.version)}`);
    for (const [fp, c] of Object.entries(v.files)) {
      if (typeof c.path === 'string' && Number.isInteger(c.offset) && c.offset >= 0) out.set(fp, { path: c.path, offset: c.offset, line: Number.isInteger(c.line) ? c.line : 0, seenMs: c.seenMs ?? Date.now() });
    }
  } catch (e) {
    const bad = `${file}.bad`;
    renameSync(file, bad);
    warn(`checkpoint file ${file} is unreadable (${(e as Error).message}); moved to ${bad}, starting over`);
  }
  return out;
}

function serialise(entries: Map<string, FileCheckpoint>): string {
  return JSON.stringify({ version: CHECKPOINT_VERSION, files: Object.fromEntries(entries) } satisfies CheckpointFile, null, 1);
}

export async function saveCheckpoints(file: string, entries: Map<string, FileCheckpoint>): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, serialise(entries));
}

export function saveCheckpointsSync(file: string, entries: Map<string, FileCheckpoint>): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, serialise(entries));
}
