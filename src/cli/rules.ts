/**
 * `vigil rules validate|list|fields`: check rules files as one set, list their rules, and
 * list the fields each source supports.
 */
import type { Command } from 'commander';
import { defaultTables } from '../engine/tables.ts';
import { PRIORITIES } from '../rules/collector.ts';
import { formatDiagnostic } from '../rules/diagnostics.ts';
import { loadRuleFiles } from '../rules/loader.ts';

export function registerRules(program: Command, state: { code: number }): void {
  const rules = program.command('rules').description('Validate and inspect rules files (Falco format)');

  rules
    .command('validate')
    .description('Load rules files as one set, in the order given; exit 0 when there is no error, 1 otherwise')
    .argument('<files...>', 'rules files')
    .option('--json', 'print the diagnostics as JSON')
    .action((files: string[], opts: { json?: boolean }) => {
      const res = loadRuleFiles(files, { tables: defaultTables() });
      if (opts.json) {
        process.stdout.write(JSON.stringify({
          ok: res.ok,
          rules: res.rules.length,
          diagnostics: res.diagnostics.map((d) => ({
            severity: d.severity, code: d.code, message: d.message,
            ...(d.loc ? { file: d.loc.file, line: d.loc.line, col: d.loc.col } : {}),
            ...(d.item ? { item: d.item } : {}), ...(d.part ? { part: d.part } : {}),
          })),
        }, null, 2) + '\n');
      } else {
        for (const d of res.diagnostics) process.stdout.write(formatDiagnostic(d) + '\n');
        const nerr = res.diagnostics.filter((d) => d.severity === 'error').length;
        const nwarn = res.diagnostics.length - nerr;
        process.stdout.write(res.ok
          ? `${files.join(', ')}: ok (${res.rules.length} rules, ${nwarn} warning(s))\n`
          : `${files.join(', ')}: invalid (${nerr} error(s), ${nwarn} warning(s))\n`);
      }
      state.code = res.ok ? 0 : 1;
    });

  rules
    .command('list')
    .description("Print each rule's name, source, priority, tags and whether it is enabled")
    .argument('<files...>', 'rules files')
    .option('--json', 'print as JSON lines')
    .action((files: string[], opts: { json?: boolean }) => {
      const res = loadRuleFiles(files, { tables: defaultTables() });
      if (!res.ok) {
        for (const d of res.diagnostics.filter((x) => x.severity === 'error')) process.stderr.write(formatDiagnostic(d) + '\n');
        state.code = 1;
        return;
      }
      for (const r of res.rules) {
        if (opts.json) {
          process.stdout.write(JSON.stringify({ rule: r.name, source: r.source, priority: r.priorityName, tags: r.tags, enabled: r.enabled }) + '\n');
        } else {
          process.stdout.write(`${r.enabled ? 'enabled ' : 'disabled'}  ${r.priorityName.padEnd(13)} ${r.source.padEnd(9)} ${r.name}${r.tags.length ? '  [' + r.tags.join(', ') + ']' : ''}\n`);
        }
      }
    });

  rules
    .command('fields')
    .description('List the supported fields with their types and descriptions')
    .option('--source <source>', 'only this source (syscall, k8s_audit)')
    .option('--json', 'print as JSON lines')
    .action((opts: { source?: string; json?: boolean }) => {
      const tables = defaultTables();
      if (opts.source && !tables.has(opts.source)) {
        process.stderr.write(`vigil: unknown source '${opts.source}' (known: ${[...tables.keys()].join(', ')})\n`);
        state.code = 2;
        return;
      }
      for (const [source, table] of tables) {
        if (opts.source && source !== opts.source) continue;
        for (const f of table.fields()) {
          const type = f.type + (f.isList ? ' (list)' : '');
          const arg = f.arg && f.arg !== 'none' ? `[${f.argKind ?? 'arg'}${f.arg === 'optional' ? '?' : ''}]` : '';
          const support = f.unsupported ? 'not supported' : 'supported';
          if (opts.json) process.stdout.write(JSON.stringify({ source, name: f.name, type: f.type, isList: !!f.isList, arg: f.arg ?? 'none', supported: !f.unsupported, description: f.description }) + '\n');
          else process.stdout.write(`${source.padEnd(9)} ${(f.name + arg).padEnd(48)} ${type.padEnd(16)} ${support.padEnd(13)} ${f.description}\n`);
        }
      }
    });
}

export const PRIORITY_NAMES = PRIORITIES;
