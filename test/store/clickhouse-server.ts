/**
 * A real ClickHouse server for tests: Debian's `clickhouse-server` (18.16) or any newer one on
 * the PATH, started as a plain process on free loopback ports with a temporary data folder
 * (no mocks). `.ci/run` installs it; without it the tests skip loudly (or fail in CI).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface ClickHouseServer {
  url: string;
  dataDir: string;
  version: string;
  stop(): Promise<void>;
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

/** How to run the server, or undefined when none is installed. */
export function clickhouseCommand(): string[] | undefined {
  const server = which('clickhouse-server');
  if (server) return [server];
  const multi = which('clickhouse');
  if (multi) return [multi, 'server'];
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

/** Start a server; resolves once it answers `/ping`. */
export async function startClickHouse(): Promise<ClickHouseServer> {
  const cmd = clickhouseCommand();
  if (!cmd) throw new Error('clickhouse-server is not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-ch-'));
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const config = `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
`;
  writeFileSync(path.join(dir, 'config.xml'), config);
  writeFileSync(path.join(dir, 'users.xml'), USERS_XML);
  let log = '';
  const child: ChildProcess = spawn(cmd[0]!, [...cmd.slice(1), '--config-file', path.join(dir, 'config.xml')], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (b: Buffer) => { log = (log + b.toString()).slice(-4000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  child.once('exit', () => { exited = true; });
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) throw new Error(`clickhouse-server exited at start:\n${log}`);
    try {
      const r = await fetch(url + '/ping');
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`clickhouse-server did not answer within 90 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const version = (await (await fetch(url + '/?query=' + encodeURIComponent('SELECT version()'))).text()).trim();
  return {
    url, dataDir: dir, version,
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(t);
      }
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
