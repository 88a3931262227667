/**
 * User and group names, as libsinsp resolves them: from `/etc/passwd` and `/etc/group` of the
 * host for host processes, and of the container's own root (`/proc/<pid>/root/etc/...`) for
 * processes in a container. Files are cached per root and re-read when their mtime changes
 * (checked at most once every RECHECK_MS).
 */
import { readFileSync, statSync } from 'node:fs';

const RECHECK_MS = 5_000;

export interface UserEntry { name: string; home: string; shell: string }

interface Db {
  users: Map<number, UserEntry>;
  groups: Map<number, string>;
  mtimes: string;
  checked: number;
}

function mtimes(root: string): string {
  const m = (p: string): string => {
    try {
      return String(statSync(root + p).mtimeMs);
    } catch {
      return '-';
    }
  };
  return m('/etc/passwd') + '|' + m('/etc/group');
}

export function parsePasswd(text: string): Map<number, UserEntry> {
  const out = new Map<number, UserEntry>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const c = line.split(':');
    if (c.length < 7) continue;
    const uid = Number(c[2]);
    if (!Number.isInteger(uid) || out.has(uid)) continue;
    out.set(uid, { name: c[0]!, home: c[5]!, shell: c[6]! });
  }
  return out;
}

export function parseGroup(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const c = line.split(':');
    if (c.length < 3) continue;
    const gid = Number(c[2]);
    if (Number.isInteger(gid) && !out.has(gid)) out.set(gid, c[0]!);
  }
  return out;
}

export class UserDirectory {
  private dbs = new Map<string, Db>();

  /** `key` names the file system (`host`, a container id); `root` is where it is seen now. */
  private db(key: string, root: string): Db {
    let d = this.dbs.get(key);
    const now = Date.now();
    if (d && now - d.checked < RECHECK_MS) return d;
    const m = mtimes(root);
    if (d && d.mtimes === m) {
      d.checked = now;
      return d;
    }
    const text = (p: string): string => {
      try {
        return readFileSync(root + p, 'utf8');
      } catch {
        return '';
      }
    };
    // A container whose files cannot be read (the process is gone) keeps what was known
    // before, and nothing is cached for it otherwise: the next process may show them.
    const users = parsePasswd(text('/etc/passwd'));
    const groups = parseGroup(text('/etc/group'));
    if (users.size === 0 && root !== '') {
      if (d) d.checked = now;
      return d ?? { users, groups, mtimes: m, checked: now };
    }
    d = { users, groups, mtimes: m, checked: now };
    this.dbs.set(key, d);
    if (this.dbs.size > 1024) this.dbs.delete(this.dbs.keys().next().value!);
    return d;
  }

  user(uid: number, key = 'host', root = ''): UserEntry | undefined {
    return this.db(key, root).users.get(uid);
  }

  group(gid: number, key = 'host', root = ''): string | undefined {
    return this.db(key, root).groups.get(gid);
  }

  /** Forget a container's files (it is gone). */
  drop(key: string): void {
    this.dbs.delete(key);
  }
}
