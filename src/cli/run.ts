/**
 * `vigil run`: the service (sources, pipeline, detection, storage, HTTP) in one process, until
 * SIGINT or SIGTERM, which stop it cleanly (input closed, pipeline drained, checkpoints
 * written, `<data>/server.json` removed).
 */
import type { Command } from 'commander';
import { ConfigError, applyOverrides, defaultConfig, loadConfigFile } from '../config/load.ts';
import type { VigilConfig } from '../config/schema.ts';
import { StartupError, startService } from './service.ts';

export interface RunOptions {
  config?: string;
  demo?: boolean;
  listen?: string;
  data?: string;
}

/** Build the effective configuration: file (or defaults) plus command-line overrides. */
export function resolveConfig(o: RunOptions): VigilConfig {
  const base = o.config ? loadConfigFile(o.config) : defaultConfig();
  return applyOverrides(base, { listen: o.listen, dataDir: o.data, demo: o.demo });
}

export function registerRun(program: Command, state: { code: number }): void {
  program
    .command('run')
    .description('Run the pipeline: collectors, webhook, detection, storage, /metrics (until Ctrl-C)')
    .option('--config <file>', 'configuration file (YAML); see docs/config.md')
    .option('--demo', 'also play the built-in demo scenario (a cluster day with an attack in it)')
    .option('--listen <host:port>', 'HTTP address (default 127.0.0.1:8765)')
    .option('--data <dir>', 'data directory (default ./data)')
    .action(async (o: RunOptions) => {
      let cfg: VigilConfig;
      try {
        cfg = resolveConfig(o);
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`vigil run: invalid configuration\n${e.message}\n`);
          state.code = 2;
          return;
        }
        throw e;
      }
      let svc;
      try {
        svc = await startService(cfg);
      } catch (e) {
        if (e instanceof StartupError) {
          process.stderr.write(`vigil run: ${e.message}\n`);
          state.code = 1;
          return;
        }
        throw e;
      }
      if (process.stdout.isTTY) {
        process.stderr.write(`Vigil is running at ${svc.url} (data in ${svc.dataDir}). Audit webhook: POST ${svc.url}/k8s-audit; Falco: POST ${svc.url}/falco; metrics: ${svc.url}/metrics. Ctrl-C stops.\n`);
      }
      await new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = (sig: NodeJS.Signals): void => {
          if (++signals > 1) {
            process.stderr.write(`vigil run: second ${sig}, exiting now\n`);
            process.exit(130);
          }
          void svc.stop().then(resolve, (e: unknown) => {
            process.stderr.write(`vigil run: error while stopping: ${(e as Error).message}\n`);
            state.code = 1;
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
    });
}
