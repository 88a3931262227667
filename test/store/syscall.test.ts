/**
 * Stored syscall events (`syscall_events`), on every backend: idempotent batch writes, typed
 * columns, retention by age and size, and search that answers exactly what `vigil replay
 * --source syscall` says for a rule with the same condition over the same records.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { replayFiles } from '../../src/cli/replay.ts';
import { encodeRecordedEvent } from '../../src/events/syscall.ts';
import { ConditionError } from '../../src/store/condition.ts';
import { syscallEventId } from '../../src/store/syscall.ts';
import type { Store, StoredSyscallEvent } from '../../src/store/types.ts';
import { BACKENDS, openTestStore } from './backends.ts';
import { ALL_TIME, Rng } from './fixtures.ts';

const HOURS = 3_600_000_000_000n;

/** Records like `vigil sensor --record` writes, with odd values (missing fields, numbers, newlines). */
function records(n: number, seed: number, baseNs = BigInt(Date.now()) * 1_000_000n - 10n * HOURS): StoredSyscallEvent[] {
  const r = new Rng(seed);
  const out: StoredSyscallEvent[] = [];
  for (let i = 0; i < n; i++) {
    const fields: Record<string, unknown> = {
      'evt.num': i + 1, 'thread.tid': 1000 + r.int(50), 'proc.pid': 1000 + r.int(50),
      'evt.type': r.pick(['openat', 'execve', 'connect', 'unlinkat', 'procexit']), 'evt.dir': '<',
    };
    if (r.chance(0.9)) fields['proc.name'] = r.pick(['cat', 'bash', 'sh', 'nc', 'python3', 'Cat', 'cat\nx']);
    if (r.chance(0.8)) fields['proc.exepath'] = r.pick(['/usr/bin/cat', '/bin/bash', '/usr/bin/nc']);
    if (r.chance(0.8)) fields['proc.exe'] = r.pick(['cat', 'bash', '/usr/bin/nc', '']);
    if (r.chance(0.8)) fields['proc.cmdline'] = r.pick(['cat /etc/hostname', 'bash -i', 'nc -e /bin/sh 127.0.0.1 4444', 'sh -c "ls"']);
    if (r.chance(0.9)) fields['user.name'] = r.pick(['root', 'nobody', 'alice']);
    if (r.chance(0.9)) fields['container.id'] = r.pick(['host', '0123456789ab', 'abcdefabcdef']);
    if (r.chance(0.5)) fields['k8s.ns.name'] = r.pick(['default', 'kube-system', 'payments']);
    if (r.chance(0.5)) fields['k8s.pod.name'] = r.pick(['web-1', 'etcd-0', 'api-7']);
    if (r.chance(0.7)) fields['fd.name'] = r.pick(['/etc/hostname', '/etc/shadow', '/tmp/x', '127.0.0.1:4444->127.0.0.1:80', 42]);
    if (r.chance(0.3)) fields['fd.typechar'] = r.pick(['f', '4', 'u']);
    if (r.chance(0.2)) fields['proc.aname[2]'] = r.pick(['containerd-shim', 'sshd']);
    const timeNs = baseNs + BigInt(r.int(8 * 3600)) * 1_000_000_000n + BigInt(i);
    const record = JSON.parse(encodeRecordedEvent(timeNs, fields)) as Record<string, unknown>;
    const labels = r.chance(0.5) ? { cluster: r.pick(['prod-eu-1', 'dev']), team: 'platform' } : undefined;
    out.push({ timeNs, host: r.pick(['node-a', 'node-b']), record, ...(labels ? { labels } : {}) });
  }
  return out;
}

const CONDITIONS = [
  'proc.name = cat',
  'proc.name = cat and fd.name = /etc/hostname',
  'proc.name in (cat, bash) and not user.name = root',
  'proc.name != cat',
  'not proc.name = cat',
  'fd.name startswith /etc/ or fd.name contains 4444',
  'evt.type = execve and proc.cmdline contains "-e"',
  'proc.exepath endswith /nc and container.id != host',
  'k8s.ns.name exists and not k8s.pod.name exists',
  'proc.name icontains CAT',
  'fd.name glob "/etc/*"',
  'fd.typechar = 4',
  'proc.aname[2] = containerd-shim or proc.exe = ""',
  'evt.num > 100 and evt.num <= 140',
  'fd.name pmatch (/etc, /tmp)',
];

async function searchAll(store: Store, condition: string | undefined, limit = 37): Promise<StoredSyscallEvent[]> {
  const out: StoredSyscallEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const p = await store.searchSyscallEvents({ range: ALL_TIME, condition, limit, ...(cursor ? { cursor } : {}) });
    out.push(...p.items);
    if (!p.cursor) return out;
    cursor = p.cursor;
  }
}

/** evt.num of the records on which a rule with `condition` fires in `vigil replay --source syscall`. */
async function replayMatches(dir: string, lines: string[], condition: string): Promise<string[]> {
  const rules = path.join(dir, 'rule.yaml');
  writeFileSync(rules, `- rule: search\n  desc: t\n  condition: ${JSON.stringify(condition)}\n  output: "n=%evt.num"\n  priority: WARNING\n  source: syscall\n`);
  const file = path.join(dir, 'events.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const out: string[] = [];
  const errs: string[] = [];
  const r = await replayFiles([file], { rules: [rules], source: 'syscall', ruleMatching: 'all', format: 'json' }, { out: (l) => out.push(l), err: (l) => errs.push(l) });
  assert.equal(r.code, 0, errs.join('\n'));
  return out.map((l) => String((JSON.parse(l) as { output_fields: Record<string, unknown> }).output_fields['evt.num'])).sort();
}

/** A stored event as `vigil search --syscall --json` prints it. */
const line = (e: StoredSyscallEvent) => JSON.stringify(e.record);
const nums = (xs: StoredSyscallEvent[]) => xs.map((e) => String((e.record.fields as Record<string, unknown>)['evt.num'])).sort();

for (const kind of BACKENDS) {
  describe(`syscall events (${kind})`, () => {
    test('writes are batched and idempotent; columns and records come back', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = records(300, 1);
      assert.equal(await s.store.writeSyscallEvents(evs), 300);
      assert.equal(await s.store.writeSyscallEvents(evs), 0);
      assert.equal(await s.store.writeSyscallEvents([...evs.slice(0, 20), ...evs.slice(0, 5), ...records(10, 2, 0n)]), 10);
      const all = await searchAll(s.store, undefined);
      assert.equal(all.length, 310);
      // Newest first, ids stable.
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.timeNs >= all[i]!.timeNs);
      const first = evs[0]!;
      const got = all.find((e) => e.id === syscallEventId(first.host, first.timeNs, first.record.fields as Record<string, unknown>));
      assert.ok(got);
      assert.deepEqual(got.record, first.record);
      assert.equal(got.host, first.host);
      assert.deepEqual(got.labels, first.labels);
      const f = first.record.fields as Record<string, unknown>;
      assert.equal(got.evtType, f['evt.type']);
      assert.equal(got.procName, typeof f['proc.name'] === 'string' && !f['proc.name'].includes('\n') ? f['proc.name'] : undefined);
    });

    test('search equals replay of the same condition as a rule over the same records', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      const evs = records(400, 3);
      await s.store.writeSyscallEvents(evs);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-sysreplay-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const lines = evs.map(line);
      for (const c of CONDITIONS) {
        const found = await searchAll(s.store, c);
        assert.deepEqual(nums(found), await replayMatches(dir, lines, c), c);
      }
      // The found records, replayed, fire the same rule on each of them.
      const found = await searchAll(s.store, 'proc.name = cat and fd.name = /etc/hostname');
      assert.ok(found.length > 0);
      assert.equal((await replayMatches(dir, found.map(line), 'proc.name = cat and fd.name = /etc/hostname')).length, found.length);
    });

    test('a bad condition is a ConditionError pointing into it', async (t) => {
      const s = await openTestStore(t, kind);
      if (!s) return;
      await assert.rejects(s.store.searchSyscallEvents({ range: ALL_TIME, condition: 'proc.name =', limit: 10 }), (e: Error) => e instanceof ConditionError && /condition:1:/.test(e.message));
      await assert.rejects(s.store.searchSyscallEvents({ range: ALL_TIME, condition: 'ka.verb = get', limit: 10 }), ConditionError);
    });

    if (kind !== 'remote') {
      test('retention by age and by size covers syscall_events', async (t) => {
        const s = await openTestStore(t, kind);
        if (!s) return;
        const now = BigInt(Date.now()) * 1_000_000n;
        const old = records(50, 4, now - 5n * 24n * HOURS);
        const recent = records(50, 5, now - 2n * HOURS);
        await s.store.writeSyscallEvents([...old, ...recent]);
        await s.store.enforceRetention({ syscall_events: { maxAgeMs: 2 * 86_400_000 } });
        await waitFor(async () => (await searchAll(s.store, undefined, 1000)).length === 50);
        const left = await searchAll(s.store, undefined, 1000);
        assert.ok(left.every((e) => e.timeNs >= now - 2n * 24n * HOURS));
        await s.store.enforceRetention({ syscall_events: { maxBytes: 1e12 } });
        assert.equal((await searchAll(s.store, undefined, 1000)).length, 50);
        await s.store.enforceRetention({ syscall_events: { maxBytes: 1 } });
        await waitFor(async () => (await searchAll(s.store, undefined, 1000)).length < 50);
      });
    }
  });
}

/** ClickHouse mutations are asynchronous. */
async function waitFor(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
