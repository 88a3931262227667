/** Configuration: defaults, errors that name file/line/key, and docs/config.md kept in step. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, applyOverrides, defaultConfig, parseConfigText } from '../../src/config/load.ts';
import { renderConfigDocs } from '../../src/config/docs.ts';
import { projectRoot } from '../helpers.ts';

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'vigil.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split('\n');
  }
  assert.fail('expected a ConfigError');
}

test('config: defaults work with no file', () => {
  const c = defaultConfig();
  assert.equal(c.listen, '127.0.0.1:8765');
  assert.equal(c.data_dir, './data');
  assert.deepEqual(c.sources.map((s) => s.type), ['k8s_audit_webhook', 'falco_alerts']);
  assert.equal(c.pipeline.spool.max_bytes, 1024 ** 3);
  assert.equal(c.outputs[0]!.type, 'console');
  assert.deepEqual(parseConfigText('', 'empty.yaml'), c);
});

test('config: nested defaults are filled in for each variant', () => {
  const c = parseConfigText('sources:\n  - type: k8s_audit_file\n    include: [/var/log/audit.log]\n', 'vigil.yaml');
  const s = c.sources[0]!;
  assert.equal(s.type, 'k8s_audit_file');
  if (s.type !== 'k8s_audit_file') return;
  assert.equal(s.max_line_bytes, 16 * 1024 * 1024);
  assert.equal(s.start_at, 'beginning');
  assert.deepEqual(s.labels, {});
});

const invalid: Array<{ name: string; yaml: string; expect: string[] }> = [
  { name: 'unknown top-level key', yaml: 'listen: 127.0.0.1:1\nbogus: 1\n', expect: ["vigil.yaml:2:1: bogus: unknown key 'bogus' (see docs/config.md)"] },
  {
    name: 'unknown nested key, at the key',
    yaml: 'pipeline:\n  spool:\n    fsink: true\n',
    expect: ["vigil.yaml:3:5: pipeline.spool.fsink: unknown key 'fsink'"],
  },
  { name: 'bad listen', yaml: 'listen: nope\n', expect: ['vigil.yaml:1:9: listen: HOST:PORT, e.g. 127.0.0.1:8765 or [::1]:8765'] },
  { name: 'port out of range', yaml: 'listen: 127.0.0.1:70000\n', expect: ['vigil.yaml:1:9: listen: port must be at most 65535'] },
  {
    name: 'bad value in a list item',
    yaml: 'sources:\n  - type: k8s_audit_file\n    include: [a.log]\n    max_line_bytes: 10\n',
    expect: ['vigil.yaml:4:21: sources[0].max_line_bytes: Too small: expected number to be >=1024'],
  },
  {
    name: 'unknown variant',
    yaml: 'sources:\n  - type: syslog\n',
    expect: ['vigil.yaml:2:11: sources[0].type: unknown or missing type (expected one of: k8s_audit_file, k8s_audit_webhook, falco_alerts, demo, syscall)'],
  },
  {
    name: 'missing required key',
    yaml: 'sources:\n  - type: k8s_audit_file\n',
    expect: ['vigil.yaml:2:5: sources[0].include: required (array)'],
  },
  { name: 'wrong type', yaml: 'pipeline:\n  batch_max_events: lots\n', expect: ['vigil.yaml:2:21: pipeline.batch_max_events: Invalid input: expected number, received string'] },
  { name: 'bad enum', yaml: 'rules:\n  rule_matching: most\n', expect: ['vigil.yaml:2:18: rules.rule_matching: expected one of "first", "all"'] },
  { name: 'bad label name', yaml: 'sources:\n  - type: k8s_audit_webhook\n    labels: { Cluster: x }\n', expect: ['vigil.yaml:3:15: sources[0].labels.Cluster: label names are lower-case letters, digits and _'] },
  {
    name: 'outputs: a webhook URL that is not http(s), delivery options',
    yaml: 'outputs:\n  - type: webhook\n    url: ftp://x/y\n    delivery: { max_retries: -1, bogus: 1 }\n',
    expect: ['vigil.yaml:3:10: outputs[0].url: Invalid URL', 'vigil.yaml:4:30: outputs[0].delivery.max_retries: Too small: expected number to be >=0', "vigil.yaml:4:34: outputs[0].delivery.bogus: unknown key 'bogus'"],
  },
  { name: 'retention age must be positive', yaml: 'storage:\n  type: duckdb\n  retention: { events: { max_age_days: 0 } }\n', expect: ['vigil.yaml:3:40: storage.retention.events.max_age_days: Too small: expected number to be >0'] },
  { name: 'YAML syntax', yaml: 'listen: [\n', expect: ['vigil.yaml:2:1: invalid YAML: Flow sequence'] },
  {
    name: 'several problems at once, in file order',
    yaml: 'a: 1\nlisten: x\nb: 2\n',
    expect: ["vigil.yaml:1:1: a: unknown key 'a' (see docs/config.md)", 'vigil.yaml:2:9: listen: HOST:PORT, e.g. 127.0.0.1:8765 or [::1]:8765', "vigil.yaml:3:1: b: unknown key 'b' (see docs/config.md)"],
  },
];

for (const c of invalid) {
  test(`config invalid: ${c.name}`, () => {
    const got = problems(c.yaml);
    for (const e of c.expect) assert.ok(got.some((g) => g.startsWith(e)), `expected ${e}\n got:\n${got.join('\n')}`);
    assert.equal(got.length, c.expect.length, got.join('\n'));
  });
}

test('config: overrides from the command line', () => {
  const c = applyOverrides(defaultConfig(), { listen: '0.0.0.0:9000', dataDir: '/tmp/x', demo: true });
  assert.equal(c.listen, '0.0.0.0:9000');
  assert.equal(c.data_dir, '/tmp/x');
  assert.ok(c.sources.some((s) => s.type === 'demo'));
  assert.throws(() => applyOverrides(defaultConfig(), { listen: 'nope' }), /--listen: "nope"/);
});

test('config: docs/config.md is generated from the schema and up to date (npm run docs:config)', () => {
  const committed = readFileSync(path.join(projectRoot, 'docs', 'config.md'), 'utf8');
  assert.equal(committed, renderConfigDocs(), 'docs/config.md is stale: run `npm run docs:config`');
});

test('config: vigil run with a bad file exits 2 and names the file, line and key; no stack trace', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const os = await import('node:os');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cfg-'));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:0\nbogus: 1\nsources:\n  - type: k8s_audit_file\n    include: [x.log]\n    max_line_bytes: -5\n');
  const r = spawnSync(process.execPath, [path.join(projectRoot, 'bin', 'vigil.mjs'), 'run', '--config', file, '--data', dir], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:1: bogus: unknown key 'bogus'`));
  assert.match(r.stderr, /bad\.yaml:6:21: sources\[0\]\.max_line_bytes: Too small/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const missing = spawnSync(process.execPath, [path.join(projectRoot, 'bin', 'vigil.mjs'), 'run', '--config', path.join(dir, 'nope.yaml')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.yaml: cannot read: ENOENT/);
});
