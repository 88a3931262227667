/**
 * `vigil search "<condition>"`: stored audit events (or, with --alerts, stored alerts; with
 * --syscall, stored syscall events) that match a condition in the rules language, newest first. The answer is what a rule with that
 * condition would have fired on. Through the running server when one serves the data
 * directory, else straight from the store.
 */
import type { Command } from 'commander';
import { formatIso8601 } from '../fields/generic.ts';
import { ConditionError } from '../store/condition.ts';
import { alertJson, toJson } from '../store/api.ts';
import { type CliStore, openCliStore } from '../store/locate.ts';
import { RemoteStoreError } from '../store/remote.ts';
import { StoreQueryError } from '../store/sqlstore.ts';
import { TimeArgError, parseTimeRange } from '../store/time.ts';
import type { StoredEvent, StoredSyscallEvent } from '../store/types.ts';

export interface StoreCliOptions {
  data: string;
  clickhouse?: string;
  clickhouseDatabase: string;
  rules: string[];
}

/** Options every store command shares. */
export function storeOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'data directory of Vigil (its store, or the running server in server.json)', './data')
    .option('--clickhouse <url>', 'query this ClickHouse instead (HTTP URL, e.g. http://127.0.0.1:8123)')
    .option('--clickhouse-database <name>', 'ClickHouse database', 'vigil');
}

export function openStoreFor(o: StoreCliOptions, create = false): Promise<CliStore> {
  return openCliStore({
    dataDir: o.data, rulesFiles: o.rules, create,
    ...(o.clickhouse ? { clickhouse: { url: o.clickhouse, database: o.clickhouseDatabase } } : {}),
  });
}

/** Errors a person caused (bad condition, time, cursor) or can act on: message only, no stack. */
export function userError(e: unknown): string | undefined {
  if (e instanceof ConditionError || e instanceof TimeArgError || e instanceof StoreQueryError || e instanceof RemoteStoreError) return e.message;
  const m = (e as Error).message ?? '';
  if (/^(store: |no store in )/.test(m)) return m;
  return undefined;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TimeArgError(`--limit: expected a positive integer, got '${v}'`);
  return n;
}

const DIM = '\x1b[2m', RESET = '\x1b[0m';

/** One line per event: time, verb, target, user, response code, cluster. */
export function eventLine(e: StoredEvent, color: boolean): string {
  const target = [e.resource ?? '-', e.subresource].filter(Boolean).join('/');
  const obj = [e.namespace, e.name].filter((x) => x !== undefined).join('/') || '-';
  const t = formatIso8601(e.timeNs);
  const parts = [color ? DIM + t + RESET : t, e.verb ?? '-', target, obj, e.user ?? '-', e.responseCode !== undefined ? String(e.responseCode) : '-'];
  if (e.cluster) parts.push(`[${e.cluster}]`);
  return parts.join('  ');
}

/** One line per syscall event: time, host, type, process, descriptor, user, container. */
export function syscallEventLine(e: StoredSyscallEvent, color: boolean): string {
  const t = formatIso8601(e.timeNs);
  const parts = [color ? DIM + t + RESET : t, e.host, e.evtType ?? '-', e.procName ?? '-', e.fdName ?? '-', e.userName ?? '-', e.containerId ?? '-'];
  if (e.procCmdline) parts.push(JSON.stringify(e.procCmdline));
  if (e.labels?.cluster) parts.push(`[${e.labels.cluster}]`);
  return parts.join('  ');
}

export function registerSearch(program: Command, state: { code: number }): void {
  storeOptions(program
    .command('search')
    .description('Search stored audit events (or syscall events, or alerts) with a condition in the rules language (what a rule with it would fire on)')
    .argument('<condition>', 'e.g. "ka.verb = delete and ka.target.resource in (secrets, configmaps)"')
    .option('--since <duration>', 'how far back from now (e.g. 15m, 24h, 30d); default 24h')
    .option('--from <time>', 'start of the range (RFC 3339, a date, or ns)')
    .option('--to <time>', 'end of the range (default now)')
    .option('--limit <n>', 'at most this many results (newest first)', '100')
    .option('--json', 'one JSON document per line: the stored audit event as received (pipe into `vigil replay -`), the alert with --alerts, the syscall record with --syscall (`vigil replay --source syscall -`)')
    .option('--alerts', 'search stored alerts instead; the condition applies to the event that fired each')
    .option('--syscall', 'search stored syscall events instead (the sensor\'s `store_events: all`); the condition is over the syscall fields')
    .option('--rules <file>', 'rules file whose lists and macros the condition may use (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[]))
    .action(async (condition: string, o: StoreCliOptions & { since?: string; from?: string; to?: string; limit: string; json?: boolean; alerts?: boolean; syscall?: boolean }) => {
      let cli: CliStore | undefined;
      try {
        const range = parseTimeRange({ since: o.since, from: o.from, to: o.to }, '24h');
        const limit = positive(o.limit);
        if (o.alerts && o.syscall) throw new TimeArgError('--alerts and --syscall cannot be combined (alerts of syscall rules: --alerts \'...\' with their rule)');
        cli = await openStoreFor(o);
        if (cli.remote && o.rules.length) process.stderr.write(`vigil search: --rules is ignored through the server (it uses its own rules' lists and macros)\n`);
        const tty = !!process.stdout.isTTY;
        const q = { range, condition, limit, order: 'desc' as const };
        let n = 0;
        let more = false;
        if (o.syscall) {
          const page = await cli.store.searchSyscallEvents(q);
          for (const e of page.items) process.stdout.write((o.json ? JSON.stringify(e.record) : syscallEventLine(e, tty)) + '\n');
          n = page.items.length;
          more = !!page.cursor;
        } else if (o.alerts) {
          const page = await cli.store.searchAlerts(q);
          for (const a of page.items) process.stdout.write((o.json ? toJson(alertJson(a)) : a.output) + '\n');
          n = page.items.length;
          more = !!page.cursor;
        } else {
          const page = await cli.store.searchEvents(q);
          for (const e of page.items) process.stdout.write((o.json ? JSON.stringify(e.raw) : eventLine(e, tty)) + '\n');
          n = page.items.length;
          more = !!page.cursor;
        }
        if (tty || process.stderr.isTTY) {
          process.stderr.write(`${n} ${o.alerts ? 'alert' : o.syscall ? 'syscall event' : 'event'}${n === 1 ? '' : 's'}${more ? ` (limit reached; --limit to see more)` : ''} — ${cli.via}\n`);
        }
        state.code = 0;
      } catch (e) {
        const msg = userError(e);
        if (msg === undefined) throw e;
        process.stderr.write(`vigil search: ${msg}\n`);
        state.code = e instanceof ConditionError || e instanceof TimeArgError ? 2 : 1;
      } finally {
        await cli?.store.close();
      }
    });
}
