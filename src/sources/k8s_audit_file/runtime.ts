/**
 * `k8s_audit_file`: tail the API server's audit log files (its log backend: one JSON `Event`
 * per line), with checkpoints that only advance once downstream has stored the lines.
 *
 * Protocol quirks, and what this tail does about them:
 * - Identity. A file is known by a fingerprint: a hash of its first line (or of its first
 *   4 KiB when the first line is longer). Audit lines start with a unique auditID, so the
 *   fingerprint survives renames and copies and is never shared by two different logs. A file
 *   whose first line is not complete yet is left alone until it is.
 * - Rotation by rename (the API server's own `--audit-log-maxsize` rotation, logrotate
 *   `create`): the open descriptor keeps reading the renamed file to its end; if the glob also
 *   matches the rotated name, the fingerprint says it is the same file and it is not read
 *   again. The new file at the old name has a new fingerprint and is read from its start.
 * - Rotation by copytruncate: the file shrinks under us. Lines written after our last read and
 *   before the truncation live only in the copy; if the glob matches the copy (same
 *   fingerprint), reading resumes there at the same offset, so nothing is lost or read twice.
 *   Without the copy those lines are gone (the truncation is logged with the offset reached).
 * - Lines can be long (a Secret or ConfigMap logged at RequestResponse level): up to
 *   `max_line_bytes` (16 MiB) are accepted; a longer line is skipped without being buffered,
 *   counted as `line_too_long` and logged with its file and byte offset.
 * - The last line may be partial (the writer is mid-line): it is waited for, never parsed.
 * - Compressed rotations (`.gz`) are skipped (gzip magic), even when the glob matches them.
 * - Back-pressure: at most `max_inflight_batches` unacknowledged batches per source, and
 *   nothing is read while the pipeline's memory queue is full.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditEvent, DecodeError } from '../../events/k8saudit.ts';
import type { Sink as Pipeline } from '../sink.ts';
import type { SourceTelemetry, TelemetryHub as Telemetry } from '../sink.ts';
import { type FileCheckpoint, loadCheckpoints, saveCheckpoints, saveCheckpointsSync } from './checkpoint.ts';
import type { K8sAuditFileConfig } from './config.ts';
import { decodeAuditLine } from './decode.ts';
import { compileGlobs, type Matcher } from './glob.ts';
import { type TailFileHealth, tailHealth } from './health.ts';
import { tailTelemetry } from './telemetry.ts';

const FP_BYTES = 4096;
/** A state not seen for this long (file gone) is dropped from the checkpoints. */
const FORGET_MS = 24 * 3600 * 1000;

interface Reader {
  fp: string;
  path: string;
  dev: number;
  ino: number;
  fh: FileHandle;
  /** Next byte to read. */
  readOffset: number;
  /** Line number of the last complete line read. */
  line: number;
  /** Bytes of the partial line being assembled, and where it starts. */
  pending: Buffer[];
  pendingLen: number;
  pendingStart: number;
  /** Skipping an overlong line until its end. */
  skipping: boolean;
  /** ms when the reader last found new data. */
  lastDataMs: number;
}

interface State {
  path: string;
  /** Acknowledged position (a line boundary) and its line number. */
  acked: number;
  ackedLine: number;
  seenMs: number;
  /** Where to go on reading in this process when the file reappears (copytruncate copy). */
  resume?: { offset: number; line: number };
}

export interface TailDeps {
  name: string;
  cfg: K8sAuditFileConfig;
  dataDir: string;
  pipeline: Pipeline;
  telemetry: Telemetry;
  log: Logger;
  /** Resolve relative include paths against this (default: cwd). */
  baseDir?: string;
}

export class K8sAuditFileTail {
  private readonly matcher: Matcher;
  private readonly states = new Map<string, State>();
  private readonly readers = new Map<string, Reader>();
  private readonly tel: SourceTelemetry;
  private readonly checkpointFile: string;
  private inflight = 0;
  private inflightWaiters: Array<() => void> = [];
  private running = false;
  private loop?: Promise<void>;
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private firstScan = true;
  private warnedBinary = new Set<string>();
  private wake?: () => void;
  private readonly labels: Record<string, string>;

  constructor(private readonly d: TailDeps) {
    this.matcher = compileGlobs(d.cfg.include, d.cfg.exclude, d.baseDir ?? process.cwd());
    this.checkpointFile = path.join(d.dataDir, 'checkpoints', `${d.name}.json`);
    this.tel = tailTelemetry(d.telemetry, d.name, () => this.health().map((f) => [f.path, Math.max(0, f.size - f.acknowledged)]));
    this.labels = Object.freeze({ ...d.cfg.labels }) as Record<string, string>;
  }

  start(): void {
    for (const [fp, c] of loadCheckpoints(this.checkpointFile, (m) => this.d.log.warn({ source: this.d.name }, m))) {
      this.states.set(fp, { path: c.path, acked: c.offset, ackedLine: c.line, seenMs: c.seenMs });
    }
    this.running = true;
    this.loop = this.run();
    this.timer = setInterval(() => void this.saveIfDirty(), this.d.cfg.checkpoint_interval_ms);
    this.timer.unref();
    this.d.log.info({ source: this.d.name, include: this.d.cfg.include, checkpoints: this.checkpointFile }, 'tail: following files');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.timer) clearInterval(this.timer);
  }

  /** After the pipeline has drained: write the final checkpoint and close files. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.saving) await new Promise((r) => setTimeout(r, 5));
    for (const r of this.readers.values()) await r.fh.close().catch(() => undefined);
    this.readers.clear();
    saveCheckpointsSync(this.checkpointFile, this.snapshot());
  }

  health(): TailFileHealth[] {
    const out: TailFileHealth[] = [];
    for (const [fp, r] of this.readers) {
      let size = r.readOffset;
      try { size = fstatSync((r.fh as unknown as { fd: number }).fd).size; } catch { /* closed */ }
      out.push({ path: r.path, size, read: r.readOffset, acknowledged: this.states.get(fp)?.acked ?? 0 });
    }
    return out;
  }

  healthSnapshot(): Record<string, unknown> {
    return tailHealth(this.health());
  }

  private snapshot(): Map<string, FileCheckpoint> {
    const m = new Map<string, FileCheckpoint>();
    for (const [fp, s] of this.states) m.set(fp, { path: s.path, offset: s.acked, line: s.ackedLine, seenMs: s.seenMs });
    return m;
  }

  private saving = false;

  private async saveIfDirty(): Promise<void> {
    if (!this.dirty || this.saving) return;
    this.dirty = false;
    this.saving = true;
    try {
      await saveCheckpoints(this.checkpointFile, this.snapshot());
    } catch (e) {
      this.dirty = true;
      this.d.log.error({ err: e, file: this.checkpointFile }, 'tail: cannot write checkpoints');
    } finally {
      this.saving = false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => { clearTimeout(t); r(); };
    });
  }

  private async run(): Promise<void> {
    let lastScan = 0;
    while (this.running) {
      const now = Date.now();
      if (now - lastScan >= this.d.cfg.poll_interval_ms || this.readers.size === 0) {
        try {
          await this.scan();
        } catch (e) {
          this.d.log.error({ err: e, source: this.d.name }, 'tail: scan failed');
        }
        lastScan = Date.now();
      }
      let progressed = false;
      for (const r of [...this.readers.values()]) {
        if (!this.running) break;
        try {
          if (await this.readSome(r)) progressed = true;
        } catch (e) {
          this.d.log.error({ err: e, file: r.path }, 'tail: read failed; will retry');
        }
      }
      if (!progressed && this.running) await this.sleep(this.d.cfg.poll_interval_ms);
    }
  }

  /** Expand the globs; open new files, follow renames, notice truncation. */
  private async scan(): Promise<void> {
    const now = Date.now();
    // Truncation first: a truncated reader is closed, so its path can start over.
    for (const r of [...this.readers.values()]) {
      let size: number;
      try {
        size = (await r.fh.stat()).size;
      } catch {
        continue;
      }
      // Shrunk, or truncated and written past our offset again between two scans: either way
      // its first line is no longer the one we know.
      if (size < r.readOffset || (await this.fingerprintOf(r.fh, size)) !== r.fp) {
        this.d.log.warn({ source: this.d.name, file: r.path, offset: r.readOffset, size }, 'tail: file truncated (copytruncate?); continuing in its copy if the glob matches one');
        await this.closeReader(r, true);
      }
    }
    const byInode = new Map<string, Reader>();
    for (const r of this.readers.values()) byInode.set(`${r.dev}:${r.ino}`, r);
    for (const p of this.matcher.expand()) {
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      const same = byInode.get(`${st.dev}:${st.ino}`);
      if (same) {
        if (same.path !== p) {
          this.d.log.info({ source: this.d.name, from: same.path, to: p }, 'tail: file renamed; same file, not read again');
          same.path = p;
          this.states.get(same.fp)!.path = p;
        }
        this.states.get(same.fp)!.seenMs = now;
        continue;
      }
      const fp = this.fingerprint(p, st.size);
      if (fp === undefined) continue;
      const open_ = this.readers.get(fp);
      if (open_) continue; // a copy of a file being read (copytruncate, before the truncate): one reader per content
      const state = this.states.get(fp);
      if (state) {
        state.seenMs = now;
        let offset = state.resume?.offset ?? state.acked;
        let line = state.resume?.line ?? state.ackedLine;
        state.resume = undefined;
        if (st.size < offset) {
          this.d.log.warn({ source: this.d.name, file: p, checkpoint: offset, size: st.size }, 'tail: file shorter than its checkpoint; reading it from the start');
          offset = 0;
          line = 0;
          state.acked = 0;
          state.ackedLine = 0;
        }
        await this.openReader(fp, p, st.dev, st.ino, offset, line);
        continue;
      }
      let offset = 0;
      if (this.firstScan && this.d.cfg.start_at === 'end') offset = lastLineBoundary(p, st.size);
      this.states.set(fp, { path: p, acked: offset, ackedLine: 0, seenMs: now });
      this.dirty = true;
      await this.openReader(fp, p, st.dev, st.ino, offset, 0);
    }
    this.firstScan = false;
    // Close readers that are done: at the end of a file that left the glob (rotated away) or
    // was deleted, idle for a while.
    for (const r of [...this.readers.values()]) {
      const idle = now - r.lastDataMs > Math.max(5 * this.d.cfg.poll_interval_ms, 2000);
      if (!idle) continue;
      let here = false;
      try {
        const st = statSync(r.path);
        here = st.ino === r.ino && st.dev === r.dev && this.matcher.matches(r.path);
      } catch { /* gone */ }
      if (here) continue;
      let size = 0;
      try { size = (await r.fh.stat()).size; } catch { /* gone */ }
      if (r.readOffset >= size) await this.closeReader(r, false);
    }
    for (const [fp, s] of this.states) if (!this.readers.has(fp) && now - s.seenMs > FORGET_MS) { this.states.delete(fp); this.dirty = true; }
  }

  /** The fingerprint of an open file (undefined while it has no complete first line). */
  private async fingerprintOf(fh: FileHandle, size: number): Promise<string | undefined> {
    if (size === 0) return undefined;
    const buf = Buffer.alloc(Math.min(FP_BYTES, size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return fingerprintBytes(buf.subarray(0, bytesRead));
  }

  private fingerprint(p: string, size: number): string | undefined {
    if (size === 0) return undefined;
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch {
      return undefined;
    }
    try {
      const buf = Buffer.alloc(Math.min(FP_BYTES, size));
      const n = readSync(fd, buf, 0, buf.length, 0);
      if (n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
        if (!this.warnedBinary.has(p)) {
          this.warnedBinary.add(p);
          this.d.log.warn({ source: this.d.name, file: p }, 'tail: skipping a gzip file (add it to exclude)');
        }
        return undefined;
      }
      return fingerprintBytes(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }

  private async openReader(fp: string, p: string, dev: number, ino: number, offset: number, line: number): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch {
      return;
    }
    const st = await fh.stat();
    if (st.ino !== ino || st.dev !== dev) {
      await fh.close();
      return; // replaced between stat and open: next scan
    }
    this.readers.set(fp, { fp, path: p, dev, ino, fh, readOffset: offset, line, pending: [], pendingLen: 0, pendingStart: offset, skipping: false, lastDataMs: Date.now() });
    this.d.log.info({ source: this.d.name, file: p, offset }, 'tail: reading file');
  }

  private async closeReader(r: Reader, truncated: boolean): Promise<void> {
    this.readers.delete(r.fp);
    await r.fh.close().catch(() => undefined);
    if (truncated) {
      // A copy with the same fingerprint resumes at the last line boundary read; the
      // checkpoint itself still advances only with acknowledgements.
      const s = this.states.get(r.fp);
      if (s) s.resume = { offset: r.pendingStart, line: r.line };
    }
  }

  private async waitInflight(): Promise<void> {
    while (this.inflight >= this.d.cfg.max_inflight_batches && this.running) {
      await new Promise<void>((res) => this.inflightWaiters.push(res));
    }
    if (!this.d.pipeline.hasCapacity()) await this.d.pipeline.capacity();
  }

  /** Read one chunk; hand complete lines downstream. Returns whether data was read. */
  private async readSome(r: Reader): Promise<boolean> {
    await this.waitInflight();
    if (!this.running || !this.readers.has(r.fp)) return false;
    const chunk = Buffer.allocUnsafe(this.d.cfg.read_chunk_bytes);
    const { bytesRead } = await r.fh.read(chunk, 0, chunk.length, r.readOffset);
    if (bytesRead === 0) return false;
    r.lastDataMs = Date.now();
    const data = chunk.subarray(0, bytesRead);
    const base = r.readOffset;
    const maxLine = this.d.cfg.max_line_bytes;
    const origin = r.path;
    let out: Array<AuditEvent | DecodeError> = [];
    let batchEnd = -1;
    let batchLine = r.line;
    let lines = 0;
    let bytes = 0;
    let start = 0;
    const flush = (): void => {
      if (batchEnd < 0) return;
      this.handOff(r, out, batchEnd, batchLine, lines, bytes);
      out = [];
      batchEnd = -1;
      lines = 0;
      bytes = 0;
    };
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      const lineEnd = base + nl + 1;
      r.line++;
      if (r.skipping) {
        r.skipping = false;
        this.tel.rejected('line_too_long');
        this.d.log.warn({ source: this.d.name, file: r.path, offset: r.pendingStart, line: r.line, max_line_bytes: maxLine }, 'tail: line longer than max_line_bytes skipped');
      } else {
        let lineBuf: Buffer;
        if (r.pendingLen > 0) {
          r.pending.push(data.subarray(start, nl));
          lineBuf = Buffer.concat(r.pending, r.pendingLen + (nl - start));
        } else lineBuf = data.subarray(start, nl);
        if (lineBuf.length > maxLine) {
          this.tel.rejected('line_too_long');
          this.d.log.warn({ source: this.d.name, file: r.path, offset: r.pendingStart, line: r.line, max_line_bytes: maxLine }, 'tail: line longer than max_line_bytes skipped');
        } else if (lineBuf.length > 0 && !(lineBuf.length === 1 && lineBuf[0] === 0x0d)) {
          decodeAuditLine(lineBuf.toString('utf8'), origin, r.line, out);
          lines++;
          bytes += lineBuf.length + 1;
        }
      }
      r.pending = [];
      r.pendingLen = 0;
      r.pendingStart = lineEnd;
      batchEnd = lineEnd;
      batchLine = r.line;
      start = nl + 1;
      if (out.length >= this.d.cfg.batch_max_events) {
        flush();
        // Back-pressure: stop at this line boundary; the rest of the chunk is read again later.
        if (this.inflight >= this.d.cfg.max_inflight_batches || !this.d.pipeline.hasCapacity()) {
          r.readOffset = lineEnd;
          return true;
        }
      }
    }
    // The partial last line: kept (copied: the chunk buffer is not reused, but it is large).
    if (start < data.length) {
      const rest = data.length - start;
      if (r.skipping || r.pendingLen + rest > maxLine) {
        r.skipping = true;
        r.pending = [];
        r.pendingLen = 0;
      } else {
        r.pending.push(Buffer.from(data.subarray(start)));
        r.pendingLen += rest;
      }
    }
    r.readOffset = base + bytesRead;
    flush();
    return true;
  }

  private handOff(r: Reader, out: Array<AuditEvent | DecodeError>, end: number, endLine: number, lines: number, bytes: number): void {
    const events: AuditEvent[] = [];
    let bad = 0;
    for (const x of out) {
      if ('error' in x) {
        bad++;
        if (bad <= 3) this.d.log.warn({ source: this.d.name }, `${x.origin}:${x.line ?? '?'}: ${x.error}${x.detail ? ` (${x.detail})` : ''}`);
      } else events.push(x);
    }
    this.tel.received(lines, bytes);
    this.tel.parsed(events.length);
    if (bad) this.tel.rejected('invalid_record', bad);
    this.inflight++;
    const fp = r.fp;
    this.d.pipeline.submitDirect(this.d.name, events, () => {
      const s = this.states.get(fp);
      if (s && end > s.acked) {
        s.acked = end;
        s.ackedLine = endLine;
        this.dirty = true;
      }
      this.inflight--;
      const w = this.inflightWaiters.shift();
      w?.();
    }, this.labels);
  }
}

/** Hash of the first line (or of the first 4 KiB); undefined until the first line is complete. */
function fingerprintBytes(head: Buffer): string | undefined {
  const nl = head.indexOf(0x0a);
  if (nl < 0 && head.length < FP_BYTES) return undefined;
  return createHash('sha256').update(head.subarray(0, nl < 0 ? head.length : nl)).digest('hex').slice(0, 32);
}

/** Offset just past the last newline before `size` (start_at: end must not start mid-line). */
function lastLineBoundary(p: string, size: number): number {
  if (size === 0) return 0;
  const fd = openSync(p, 'r');
  try {
    let end = size;
    const buf = Buffer.alloc(64 * 1024);
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      const n = readSync(fd, buf, 0, end - start, start);
      const i = buf.subarray(0, n).lastIndexOf(0x0a);
      if (i >= 0) return start + i + 1;
      end = start;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}
