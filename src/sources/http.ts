/**
 * What HTTP sources need to receive requests: the route registry they add their endpoints to,
 * request bodies with size limits and gzip, bearer tokens, JSON answers. The server
 * (src/server/http.ts) implements `Routes`; the helpers live here so that sources depend on
 * nothing to their right.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse, rest: string) => Promise<void> | void;

export interface Routes {
  /** Serve `path` (and `path/<rest>` when `prefix`) with `handler`. */
  route(path: string, handler: Handler, prefix?: boolean): void;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: message }, headers);
}

/** Bearer-token check; no token configured means open. */
export function checkBearer(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  const h = req.headers.authorization;
  if (h === undefined || !/^Bearer\s+/i.test(h) || h.replace(/^Bearer\s+/i, '').trim() !== token) {
    throw new HttpError(401, 'missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
  }
}

/**
 * Read a request body, decompressing gzip/deflate, up to `maxBytes` (after decompression; a
 * Content-Length over the limit is refused before reading). Throws HttpError 413/415/400.
 * `onChunk` sees the size of each chunk (decompressed) before it is kept; what it throws stops
 * the read and is thrown from here (a shared memory budget refusing the body).
 */
export async function readBody(req: IncomingMessage, maxBytes: number, onChunk?: (bytes: number) => void): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (Number.isFinite(declared) && declared > maxBytes && (enc === 'identity' || enc === '')) {
    throw new HttpError(413, `body of ${declared} bytes is over the limit of ${maxBytes} bytes`);
  }
  let stream: NodeJS.ReadableStream = req;
  if (enc === 'gzip' || enc === 'x-gzip') stream = req.pipe(createGunzip());
  else if (enc === 'deflate') stream = req.pipe(createInflate());
  else if (enc !== 'identity' && enc !== '') throw new HttpError(415, `unsupported Content-Encoding '${enc}' (gzip, deflate or none)`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of stream) {
      const b = c as Buffer;
      size += b.length;
      if (size > maxBytes) {
        if (stream !== req) (stream as unknown as { destroy(): void }).destroy();
        throw new HttpError(413, `body is over the limit of ${maxBytes} bytes${stream !== req ? ' (after decompression)' : ''}`);
      }
      if (onChunk) {
        try {
          onChunk(b.length);
        } catch (e) {
          if (stream !== req) (stream as unknown as { destroy(): void }).destroy();
          throw e;
        }
      }
      chunks.push(b);
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code?.startsWith('Z_')) throw new HttpError(400, `body is not valid ${enc}: ${err.message}`);
    throw new HttpError(400, `could not read the body: ${err.message}`);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** The media type of a request, lower-case, without parameters ('' when absent). */
export function mediaType(req: IncomingMessage): string {
  const ct = req.headers['content-type'];
  if (!ct) return '';
  return ct.split(';', 1)[0]!.trim().toLowerCase();
}

export function remote(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}
