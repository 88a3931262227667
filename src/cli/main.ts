/**
 * The `vigil` command. Each subcommand lives in its own module; this file wires them into
 * commander and turns bad usage into a clear message and exit code 2.
 */
import { Command, CommanderError } from 'commander';
import { registerReplay } from './replay.ts';
import { registerRules } from './rules.ts';
import { registerRun } from './run.ts';
import { registerSensor } from './sensor.ts';
import { registerSearch } from './search.ts';
import { registerHunt } from './hunt.ts';

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('vigil')
    .description('Kubernetes threat detection: Falco rules on audit logs and syscalls, in one program.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run `vigil --help` for usage)');

  const state = { code: 0 };
  registerRules(program, state);
  registerReplay(program, state);
  registerRun(program, state);
  registerSensor(program, state);
  registerSearch(program, state);
  registerHunt(program, state);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return e.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`vigil: ${(e as Error).message}\n`);
    return 1;
  }
  return state.code;
}
