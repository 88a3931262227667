/** Health of the file tail: the files it follows and how far behind each one is. */
export interface TailFileHealth {
  path: string;
  size: number;
  read: number;
  acknowledged: number;
}

export function tailHealth(files: TailFileHealth[]): Record<string, unknown> {
  const lag = files.reduce((s, f) => s + Math.max(0, f.size - f.acknowledged), 0);
  return { files, lag_bytes: lag };
}
