/**
 * The disk spool: an append-only, segmented, checksummed log of the batches that push sources
 * (webhooks, Falco alerts) hand over. A batch is acknowledged to its sender only once it is
 * written and fsynced here, so a crash after the 200 loses nothing; the consumer reads the
 * log in order and records how far it got (crash-safely), so a restart resumes where it was.
 *
 * Layout under `dir`: `seg-<n>.log` segment files and `position.json`
 * (`{"version":1,"segment":n,"offset":bytes}`: everything before it has been stored).
 * A record is `[u32 LE length][u32 LE crc32][payload]`. On open, a torn record at the end of
 * the last segment (a crash in the middle of a write) is cut off; a record whose checksum does
 * not match in the middle of a segment is counted and skipped to the end of that segment.
 *
 * Memory: each appended record may carry its already decoded form (`attached`), so the
 * consumer does not decode it again. Attached forms are kept up to `memoryMaxItems` items and
 * `memoryMaxBytes` bytes of payload; past either, a record is kept on disk only ("spilled")
 * and decoded again when its turn comes.
 *
 * Appends are group-committed: every record appended while a write is in progress goes out
 * with the next write and shares one fsync (measured: one fsync per HTTP request capped
 * ingest at ~9k events/s with small batches; grouping lifts it to the decode speed).
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, unlinkSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic, writeFileAtomicSync } from '../util/atomic.ts';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentMaxBytes: number;
  fsync: boolean;
  /** Records whose decoded form is kept in memory; beyond, records are read back from disk. */
  memoryMaxItems: number;
  /**
   * Bytes of payload whose decoded form is kept in memory (default 32 MiB; a decoded audit
   * event takes about 2.5 times its JSON text in the heap): the bound that holds whatever
   * the events' size.
   */
  memoryMaxBytes?: number;
}

export interface SpoolRecord<T> {
  payload?: Buffer;
  attached?: T;
  /** Weight of the record in `memoryMaxItems` units (events in the batch). */
  weight: number;
  segment: number;
  /** Offset of the record's header in its segment. */
  start: number;
  /** Offset just past the record in its segment. */
  end: number;
}

interface Pending<T> {
  payload: Buffer;
  attached?: T;
  weight: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

const HEADER = 8;
const POSITION_VERSION = 1;

export class SpoolFullError extends Error {
  constructor(readonly bytes: number) {
    super(`spool full (${bytes} bytes unconsumed)`);
  }
}

export class Spool<T> {
  private segments: number[] = [];
  /** Sizes of closed segments (recovered ones and the ones this run filled). */
  private sizes = new Map<number, number>();
  private writeSeg = 0;
  /** First segment written by this process; earlier ones hold records recovered at open. */
  private firstWriteSeg = 0;
  private writeFh?: FileHandle;
  private writeOffset = 0;
  /** Bytes in segments before the write segment, not yet consumed (for size accounting). */
  private totalBytes = 0;
  private consumedSeg = 0;
  private consumedOffset = 0;
  /** Read cursor (records before it have been handed to the consumer). */
  private readSeg = 0;
  private readOffset = 0;
  private readFd?: { seg: number; fd: number };
  private queue: Array<SpoolRecord<T>> = [];
  private memoryItems = 0;
  private memoryBytes = 0;
  private readonly memoryMaxBytes: number;
  private pending: Array<Pending<T>> = [];
  private writing = false;
  private positionDirty = false;
  private positionTimer?: NodeJS.Timeout;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** Counters for telemetry. */
  readonly stats = { appended: 0, spilled: 0, corrupt: 0, recovered: 0, positionErrors: 0 };
  lastError?: Error;
  private flushing = false;

  constructor(readonly opts: SpoolOptions) {
    this.memoryMaxBytes = opts.memoryMaxBytes ?? 32 * 1024 * 1024;
  }

  /** Bytes written and not yet consumed. */
  get unconsumedBytes(): number {
    return this.totalBytes;
  }

  async open(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    this.segments = readdirSync(this.opts.dir)
      .map((f) => /^seg-(\d+)\.log$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const pos = this.readPosition();
    if (pos) {
      this.consumedSeg = pos.segment;
      this.consumedOffset = pos.offset;
    } else if (this.segments.length) {
      this.consumedSeg = this.segments[0]!;
      this.consumedOffset = 0;
    }
    // Segments wholly before the consumed position are leftovers of an interrupted cleanup.
    for (const s of this.segments.filter((x) => x < this.consumedSeg)) unlinkSync(this.segPath(s));
    this.segments = this.segments.filter((x) => x >= this.consumedSeg);
    // Cut a torn record off the last segment.
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined) this.repairTail(last);
    this.totalBytes = 0;
    for (const s of this.segments) {
      const size = fstatSize(this.segPath(s));
      this.sizes.set(s, size);
      this.totalBytes += s === this.consumedSeg ? Math.max(0, size - this.consumedOffset) : size;
    }
    this.readSeg = this.consumedSeg;
    this.readOffset = this.consumedOffset;
    if (this.totalBytes > 0) this.stats.recovered = this.totalBytes;
    // Always start a fresh segment for new writes: recovered segments are read only.
    this.writeSeg = (last ?? this.consumedSeg) + 1;
    if (this.segments.length === 0) {
      this.consumedSeg = this.readSeg = this.writeSeg;
      this.consumedOffset = this.readOffset = 0;
    }
    await this.openWriteSegment(this.writeSeg);
    this.firstWriteSeg = this.writeSeg;
    this.positionTimer = setInterval(() => void this.flushPosition(), 200);
    this.positionTimer.unref();
  }

  private segPath(n: number): string {
    return path.join(this.opts.dir, `seg-${String(n).padStart(12, '0')}.log`);
  }

  private readPosition(): { segment: number; offset: number } | undefined {
    const f = path.join(this.opts.dir, 'position.json');
    if (!existsSync(f)) return undefined;
    try {
      const v = JSON.parse(readFileSync(f, 'utf8')) as { version?: number; segment?: number; offset?: number };
      if (v.version !== POSITION_VERSION || !Number.isInteger(v.segment) || !Number.isInteger(v.offset)) return undefined;
      return { segment: v.segment!, offset: v.offset! };
    } catch {
      return undefined;
    }
  }

  private repairTail(seg: number): void {
    const p = this.segPath(seg);
    const fd = openSync(p, 'r+');
    try {
      const size = fstatSync(fd).size;
      let off = seg === this.consumedSeg ? this.consumedOffset : 0;
      const head = Buffer.alloc(HEADER);
      while (off + HEADER <= size) {
        readSync(fd, head, 0, HEADER, off);
        const len = head.readUInt32LE(0);
        if (off + HEADER + len > size) break;
        off += HEADER + len;
      }
      if (off < size) ftruncateSync(fd, off);
    } finally {
      closeSync(fd);
    }
  }

  private async openWriteSegment(n: number): Promise<void> {
    if (this.writeFh) this.sizes.set(this.writeSeg, this.writeOffset);
    await this.writeFh?.close();
    this.writeFh = await open(this.segPath(n), 'a');
    this.writeSeg = n;
    this.writeOffset = 0;
    if (!this.segments.includes(n)) this.segments.push(n);
  }

  /**
   * Append one record; resolves once it is on disk (fsynced unless configured off). Throws
   * SpoolFullError when the spool is at its size cap.
   */
  append(payload: Buffer, attached: T | undefined, weight: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool closed'));
    if (this.totalBytes + payload.length + HEADER > this.opts.maxBytes) return Promise.reject(new SpoolFullError(this.totalBytes));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ payload, attached, weight, resolve, reject });
      if (!this.writing) void this.writeLoop();
    });
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          if (this.writeOffset > 0 && this.writeOffset >= this.opts.segmentMaxBytes) await this.openWriteSegment(this.writeSeg + 1);
          const bufs: Buffer[] = [];
          const recs: Array<SpoolRecord<T>> = [];
          let off = this.writeOffset;
          for (const p of batch) {
            const h = Buffer.allocUnsafe(HEADER);
            h.writeUInt32LE(p.payload.length, 0);
            h.writeUInt32LE(crc32(p.payload), 4);
            bufs.push(h, p.payload);
            const start = off;
            off += HEADER + p.payload.length;
            recs.push({ attached: p.attached, payload: p.payload, weight: p.weight, segment: this.writeSeg, start, end: off });
          }
          await this.writeFh!.writev(bufs);
          if (this.opts.fsync) await this.writeFh!.datasync();
          this.totalBytes += off - this.writeOffset;
          this.writeOffset = off;
          for (const r of recs) {
            // Keep the decoded form while there is room; otherwise the record is read back later.
            const bytes = r.end - r.start;
            if (r.attached !== undefined && this.memoryItems + r.weight <= this.opts.memoryMaxItems && this.memoryBytes + bytes <= this.memoryMaxBytes) {
              this.memoryItems += r.weight;
              this.memoryBytes += bytes;
              r.payload = undefined;
            } else {
              if (r.attached !== undefined) this.stats.spilled++;
              r.attached = undefined;
              r.payload = undefined;
            }
            this.queue.push(r);
          }
          this.stats.appended += batch.length;
          for (const p of batch) p.resolve();
          this.wake();
        } catch (e) {
          for (const p of batch) p.reject(e as Error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when a record may be available (or the spool closes). */
  waitForData(): Promise<void> {
    if (this.hasData() || this.closed) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  hasData(): boolean {
    return this.queue.length > 0 || this.readSeg < this.firstWriteSeg;
  }

  /**
   * The next record in order, or undefined when there is none right now. Records left by a
   * previous run (segments before this run's first) are read from disk; records written by
   * this process come from the in-memory queue, and a spilled one is read back from its
   * segment.
   */
  next(): SpoolRecord<T> | undefined {
    while (this.readSeg < this.firstWriteSeg) {
      const rec = this.readRecordAt(this.readSeg, this.readOffset);
      if (rec === 'end' || rec === undefined) {
        this.readSeg = this.segments.find((s) => s > this.readSeg) ?? this.firstWriteSeg;
        this.readOffset = 0;
        continue;
      }
      if (rec === 'corrupt') {
        this.stats.corrupt++;
        this.readSeg = this.segments.find((s) => s > this.readSeg) ?? this.firstWriteSeg;
        this.readOffset = 0;
        continue;
      }
      const r = { payload: rec.payload, weight: 0, segment: this.readSeg, start: this.readOffset, end: rec.end };
      this.readOffset = rec.end;
      return r;
    }
    const head = this.queue.shift();
    if (!head) return undefined;
    if (head.attached !== undefined) {
      this.memoryItems -= head.weight;
      this.memoryBytes -= head.end - head.start;
    }
    else {
      const rec = this.readRecordAt(head.segment, head.start);
      if (typeof rec === 'object') head.payload = rec.payload;
      else this.stats.corrupt++;
    }
    this.readSeg = head.segment;
    this.readOffset = head.end;
    return head;
  }

  private readRecordAt(seg: number, off: number): { payload: Buffer; end: number } | 'end' | 'corrupt' | undefined {
    if (!this.readFd || this.readFd.seg !== seg) {
      if (this.readFd) closeSync(this.readFd.fd);
      this.readFd = undefined;
      try {
        this.readFd = { seg, fd: openSync(this.segPath(seg), 'r') };
      } catch {
        return 'end';
      }
    }
    const fd = this.readFd.fd;
    const size = fstatSync(fd).size;
    if (off + HEADER > size) return 'end';
    const head = Buffer.alloc(HEADER);
    readSync(fd, head, 0, HEADER, off);
    const len = head.readUInt32LE(0);
    if (off + HEADER + len > size) return 'end';
    const payload = Buffer.allocUnsafe(len);
    readSync(fd, payload, 0, len, off + HEADER);
    if (crc32(payload) !== head.readUInt32LE(4)) return 'corrupt';
    return { payload, end: off + HEADER + len };
  }

  /** Everything up to and including `r` has been durably processed downstream. */
  commit(r: { segment: number; end: number }): void {
    let delta: number;
    if (r.segment === this.consumedSeg) delta = r.end - this.consumedOffset;
    else {
      delta = this.segSize(this.consumedSeg) - this.consumedOffset + r.end;
      for (const s of this.segments) if (s > this.consumedSeg && s < r.segment) delta += this.segSize(s);
    }
    this.totalBytes = Math.max(0, this.totalBytes - Math.max(0, delta));
    this.consumedSeg = r.segment;
    this.consumedOffset = r.end;
    this.positionDirty = true;
  }

  private segSize(seg: number): number {
    if (seg === this.writeSeg) return this.writeOffset;
    return this.sizes.get(seg) ?? 0;
  }

  private async flushPosition(): Promise<void> {
    if (!this.positionDirty || this.flushing || this.closed) return;
    this.positionDirty = false;
    this.flushing = true;
    const seg = this.consumedSeg;
    try {
      await writeFileAtomic(path.join(this.opts.dir, 'position.json'), JSON.stringify({ version: POSITION_VERSION, segment: seg, offset: this.consumedOffset }));
      // Deleted off the event loop (measured: unlinkSync of a 64 MiB segment took 1.5% of
      // the ingest path). A crash before the unlink leaves files that open() deletes.
      await Promise.all(this.dropConsumedSegments(seg).map((f) => unlink(f).catch(() => undefined)));
    } catch (e) {
      // Retried at the next tick; until then a restart replays a little more (idempotent).
      this.positionDirty = true;
      this.stats.positionErrors++;
      this.lastError = e as Error;
    } finally {
      this.flushing = false;
    }
  }

  /** Forget the segments before `seg`; returns their files, for the caller to delete. */
  private dropConsumedSegments(seg: number): string[] {
    const files: string[] = [];
    for (const s of this.segments.filter((x) => x < seg)) {
      if (this.readFd?.seg === s) { closeSync(this.readFd.fd); this.readFd = undefined; }
      files.push(this.segPath(s));
    }
    this.segments = this.segments.filter((x) => x >= seg);
    for (const k of this.sizes.keys()) if (k < seg) this.sizes.delete(k);
    return files;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing || this.pending.length) await new Promise((r) => setTimeout(r, 5));
    while (this.flushing) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.positionTimer) clearInterval(this.positionTimer);
    this.wake();
    if (this.positionDirty) {
      writeFileAtomicSync(path.join(this.opts.dir, 'position.json'), JSON.stringify({ version: POSITION_VERSION, segment: this.consumedSeg, offset: this.consumedOffset }));
      this.positionDirty = false;
      for (const f of this.dropConsumedSegments(this.consumedSeg)) {
        try { unlinkSync(f); } catch { /* already gone */ }
      }
    }
    await this.writeFh?.close();
    if (this.readFd) closeSync(this.readFd.fd);
  }
}

function fstatSize(p: string): number {
  try {
    const fd = openSync(p, 'r');
    try { return fstatSync(fd).size; } finally { closeSync(fd); }
  } catch {
    return 0;
  }
}
