/**
 * The HTTP server (node:http): routing, bodies (size limits, gzip), auth, and the service
 * endpoints `/healthz`, `/readyz`, `/metrics`, `/api/live` (server-sent events of alerts).
 * Ingest handlers live with their sources (src/sources/<name>/runtime.ts); this file holds no
 * business logic.
 *
 * node:http rather than a framework: ingest needs streaming size checks before and after
 * decompression, early answers (413/429/401 before reading a body) and exact control of the
 * status line, and every other route is trivial.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate } from 'node:zlib';
import type { Logger } from 'pino';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse, rest: string) => Promise<void> | void;

interface Route {
  path: string;
  /** Also match `path/<anything>`; the remainder is passed as `rest`. */
  prefix: boolean;
  handler: Handler;
}

export class HttpServer {
  private routes: Route[] = [];
  private server: Server;
  private sockets = new Set<import('node:net').Socket>();

  constructor(private readonly log: Logger) {
    this.server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000 }, (req, res) => void this.dispatch(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      this.log.debug({ err }, 'http: client error');
    });
  }

  route(path: string, handler: Handler, prefix = false): void {
    if (this.routes.some((r) => r.path === path)) throw new Error(`two endpoints on the path ${path}`);
    this.routes.push({ path, handler, prefix });
    // Longest paths first so that /k8s-audit wins over /.
    this.routes.sort((a, b) => b.path.length - a.path.length);
  }

  private match(pathname: string): { route: Route; rest: string } | undefined {
    for (const r of this.routes) {
      if (pathname === r.path) return { route: r, rest: '' };
      if (r.prefix && r.path !== '/' && pathname.startsWith(r.path + '/')) return { route: r, rest: pathname.slice(r.path.length + 1) };
    }
    return undefined;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const m = this.match(pathname);
    try {
      if (!m) throw new HttpError(404, `no endpoint at ${pathname}`);
      await m.route.handler(req, res, decodeURIComponent(m.rest));
    } catch (e) {
      if (e instanceof HttpError) {
        // An unread body would be read as the next request: close instead.
        sendError(res, e.status, e.message, req.complete ? e.headers : { ...e.headers, Connection: 'close' });
      } else {
        this.log.error({ err: e, path: pathname }, 'http: handler failed');
        sendError(res, 500, 'internal error');
      }
      if (!req.complete) req.resume();
    }
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, 2000).unref();
    });
  }
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
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
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
