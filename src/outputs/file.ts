/** `file` output: Falco's JSON alerts appended to a file, one per line. */
import { type FileHandle, open } from 'node:fs/promises';
import type { AlertRecord, Output } from './types.ts';

export class FileOutput implements Output {
  private fh?: Promise<FileHandle>;

  constructor(readonly name: string, readonly minPriority: number, private readonly path: string) {}

  async send(alerts: AlertRecord[]): Promise<void> {
    this.fh ??= open(this.path, 'a');
    let fh: FileHandle;
    try {
      fh = await this.fh;
    } catch (e) {
      // Open again on the next attempt (the folder may be created, the disk remounted).
      this.fh = undefined;
      throw new Error(`cannot open ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    await fh.write(alerts.map((a) => a.json + '\n').join(''));
  }

  async close(): Promise<void> {
    if (this.fh) await (await this.fh.catch(() => undefined))?.close();
  }
}
