/**
 * `vigil run`: the service. Until the collector issue lands it loads the bundled rule
 * packs, says what it loaded and what is not there yet, and exits.
 */
import type { Command } from 'commander';
import { bundledRuleFiles } from '../engine/bundled.ts';
import { defaultTables } from '../engine/tables.ts';
import { formatDiagnostic } from '../rules/diagnostics.ts';
import { loadRuleFiles } from '../rules/loader.ts';

export function registerRun(program: Command, state: { code: number }): void {
  program
    .command('run')
    .description('Run the pipeline (collectors, detection, storage, UI)')
    .option('--config <file>', 'configuration file (YAML)')
    .option('--demo', 'play the built-in demo scenario')
    .action(() => {
      const files = bundledRuleFiles();
      const res = loadRuleFiles(files, { tables: defaultTables() });
      for (const d of res.diagnostics.filter((x) => x.severity === 'error')) process.stderr.write(formatDiagnostic(d) + '\n');
      process.stdout.write(program.helpInformation() + '\n');
      process.stdout.write(`Loaded ${res.rules.length} rules from Vigil's bundled packs (${files.length} file(s)).\n`);
      process.stdout.write('The long-running service (collectors, storage, UI) is not built yet: try\n' +
        '  npx vigil replay <audit-log.json>    to detect on recorded Kubernetes audit events\n' +
        '  npx vigil rules validate <file.yaml> to check a Falco rules file\n');
      state.code = res.ok ? 0 : 1;
    });
}
