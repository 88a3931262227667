/**
 * `vigil hunt --rules FILE`: run rules over stored history, print what they would have raised
 * (Falco's text line, or Falco's JSON alert with --json), with a progress bar on a terminal,
 * and store the hits as alerts marked as hunt results.
 */
import type { Command } from 'commander';
import { Engine, type RuleMatching, alertToJson } from '../engine/engine.ts';
import { defaultTables } from '../engine/tables.ts';
import { parsePriority } from '../rules/collector.ts';
import { formatDiagnostic } from '../rules/diagnostics.ts';
import { runHunt } from '../store/hunt.ts';
import type { CliStore } from '../store/locate.ts';
import { TimeArgError, parseTimeRange } from '../store/time.ts';
import { textLine } from './replay.ts';
import { type StoreCliOptions, openStoreFor, storeOptions, userError } from './search.ts';
import { formatIso8601 } from '../fields/generic.ts';

function bar(fraction: number, scanned: number, hits: number): string {
  const width = 30;
  const full = Math.round(fraction * width);
  return `\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${scanned.toLocaleString('en-US')} events  ${hits.toLocaleString('en-US')} alerts`;
}

export function registerHunt(program: Command, state: { code: number }): void {
  storeOptions(program
    .command('hunt')
    .description('Run rules over stored history: print what they would have raised and store the hits as hunt results')
    .option('--rules <file>', 'rules file (repeatable; required)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--since <duration>', 'how far back from now (e.g. 24h, 30d); default 30d')
    .option('--from <time>', 'start of the range (RFC 3339, a date, or ns)')
    .option('--to <time>', 'end of the range (default now)')
    .option('--json', "Falco's JSON alert, one per line")
    .option('--rule-matching <mode>', "first (Falco's default) or all", 'first')
    .option('--min-priority <priority>', 'only rules at least this severe')
    .option('--dry-run', 'report only, store nothing'))
    .action(async (o: StoreCliOptions & { since?: string; from?: string; to?: string; json?: boolean; ruleMatching: string; minPriority?: string; dryRun?: boolean }) => {
      const fail = (msg: string, code: number) => {
        process.stderr.write(`vigil hunt: ${msg}\n`);
        state.code = code;
      };
      if (o.rules.length === 0) return fail('--rules FILE is required (the rules to hunt with, e.g. Falco\'s k8s_audit_rules.yaml)', 2);
      if (o.ruleMatching !== 'first' && o.ruleMatching !== 'all') return fail('--rule-matching must be first or all', 2);
      const engine = new Engine({ tables: defaultTables(), ruleMatching: o.ruleMatching as RuleMatching });
      if (o.minPriority !== undefined) {
        const p = parsePriority(o.minPriority);
        if (p === undefined) return fail(`invalid --min-priority '${o.minPriority}' (one of emergency, alert, critical, error, warning, notice, informational, debug)`, 2);
        engine.minPriority = p;
      }
      const loaded = engine.loadFiles(o.rules);
      for (const d of loaded.diagnostics) if (d.severity === 'error') process.stderr.write(formatDiagnostic(d) + '\n');
      if (!loaded.ok) return fail('the rules did not load', 1);
      let cli: CliStore | undefined;
      const progress = !!process.stderr.isTTY;
      try {
        const range = parseTimeRange({ since: o.since, from: o.from, to: o.to }, '30d');
        // Hunting writes its hits: the store may be opened even if empty (nothing to find then).
        cli = await openStoreFor({ ...o, rules: [] }, true);
        const color = !!process.stdout.isTTY && !o.json;
        let lastDraw = 0;
        const res = await runHunt(cli.store, engine, {
          range, dryRun: !!o.dryRun,
          onAlert: (a) => {
            if (progress) process.stderr.write('\r\x1b[K');
            process.stdout.write((o.json ? alertToJson(a) : textLine(a, color)) + '\n');
          },
          onProgress: (p) => {
            const now = Date.now();
            if (progress && (now - lastDraw > 100 || p.fraction === 1)) {
              lastDraw = now;
              process.stderr.write(bar(p.fraction, p.scanned, p.hits));
            }
          },
        });
        if (progress) process.stderr.write('\r\x1b[K');
        const active = engine.allRules.filter((r) => engine.isActive(r) && r.source === 'k8s_audit').length;
        process.stderr.write(
          `hunt: ${res.scanned.toLocaleString('en-US')} candidate events from ${formatIso8601(range.fromNs)} to ${formatIso8601(range.toNs)}, ` +
          `${active} rules: ${res.alerts} alerts` + (o.dryRun ? ' (dry run, nothing stored)' : `, ${res.stored} new stored as hunt results`) + ` — ${cli.via}\n`);
        state.code = 0;
      } catch (e) {
        if (progress) process.stderr.write('\r\x1b[K');
        const msg = userError(e);
        if (msg === undefined) throw e;
        fail(msg, e instanceof TimeArgError ? 2 : 1);
      } finally {
        await cli?.store.close();
      }
    });
}
