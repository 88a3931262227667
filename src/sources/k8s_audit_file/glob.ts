/**
 * File globs for the tail: wildcards (`*`, `?`, `[...]`) in the file-name part only, which is
 * what audit log rotation needs (`/var/log/kubernetes/audit/audit*.log`) and keeps each scan
 * to one directory listing per pattern.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const j = glob.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, j);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += '[' + cls.replace(/\\/g, '\\\\') + ']';
        i = j;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

const WILD = /[*?[]/;

export interface Matcher {
  /** Every existing path matching the include patterns and none of the excludes, sorted. */
  expand(): string[];
  /** Whether a path is included and not excluded. */
  matches(abs: string): boolean;
}

export function compileGlobs(include: string[], exclude: string[], baseDir: string): Matcher {
  const inc = include.map((p) => {
    const abs = path.resolve(baseDir, p);
    const dir = path.dirname(abs);
    const base = path.basename(abs);
    if (WILD.test(dir)) throw new Error(`'${p}': wildcards are only supported in the file name, not in directories`);
    return { dir, literal: WILD.test(base) ? undefined : base, re: globToRegExp(base) };
  });
  const exc = exclude.map((p) => (p.includes('/') ? { full: globToRegExp(path.resolve(baseDir, p)) } : { base: globToRegExp(p) }));
  const excluded = (abs: string): boolean => exc.some((e) => ('full' in e ? e.full!.test(abs) : e.base!.test(path.basename(abs))));
  return {
    matches(abs) {
      return !excluded(abs) && inc.some((p) => path.dirname(abs) === p.dir && (p.literal !== undefined ? path.basename(abs) === p.literal : p.re.test(path.basename(abs))));
    },
    expand() {
      const out = new Set<string>();
      for (const p of inc) {
        let names: string[];
        try {
          names = readdirSync(p.dir);
        } catch {
          continue;
        }
        for (const n of names) {
          if (p.literal !== undefined ? n !== p.literal : !p.re.test(n)) continue;
          const abs = path.join(p.dir, n);
          if (!excluded(abs)) out.add(abs);
        }
      }
      return [...out].sort();
    },
  };
}
