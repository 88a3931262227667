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
import type { Logger } from 'pino';
import { type Handler, HttpError, type Routes, sendError } from '../sources/http.ts';

export { HttpError, sendError, sendJson, readBody, checkBearer, mediaType, remote, type Handler } from '../sources/http.ts';


interface Route {
  path: string;
  /** Also match `path/<anything>`; the remainder is passed as `rest`. */
  prefix: boolean;
  handler: Handler;
}

export class HttpServer implements Routes {
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

