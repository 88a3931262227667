/**
 * The demo scenario: the bundled pack fires on every step of the attack and stays quiet on
 * the cluster's ordinary work; played by `vigil run --demo`, the alerts reach storage and the
 * console.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundledRuleFiles } from '../../src/engine/bundled.ts';
import { Engine } from '../../src/engine/engine.ts';
import { defaultTables } from '../../src/engine/tables.ts';
import { MemoryStore } from '../../src/pipeline/memstore.ts';
import { decodeScenarioEvents } from '../../src/sources/demo/decode.ts';
import { buildScenario } from '../../src/sources/demo/scenario.ts';
import { startTestService } from '../harness.ts';

test('demo: the attack raises the expected alerts, the ordinary work none', () => {
  const engine = new Engine({ tables: defaultTables() });
  assert.ok(engine.loadFiles(bundledRuleFiles()).ok);
  const scenario = buildScenario(Date.now());
  const events = decodeScenarioEvents(scenario.map((e) => e.event));
  assert.equal(events.length, scenario.length, 'every scenario event is a valid audit event');
  const fired: string[] = [];
  const quietUsers = new Set<string>();
  for (const ev of events) {
    const alerts = engine.process(ev);
    const user = (ev.raw.user as { username: string }).username;
    if (alerts.length === 0) quietUsers.add(user);
    for (const a of alerts) {
      assert.ok(ev.raw.sourceIPs && (ev.raw.sourceIPs as string[])[0] === '203.0.113.50', `only the attacker alerts, not ${user}: ${a.rule}`);
      fired.push(a.rule);
    }
  }
  for (const rule of [
    'K8s Service Account Token Used From CLI Tool', 'K8s Secret Read Forbidden', 'K8s Cluster-Wide Binding To cluster-admin',
    'K8s Secrets Listed Across All Namespaces', 'K8s kube-system Secret Read By Non-System Identity', 'K8s Interactive Shell In Pod',
    'K8s Session Into Control-Plane Pod',
  ]) assert.ok(fired.includes(rule), `${rule} fires`);
  assert.equal(fired.length, 12);
  for (const u of ['alice@example.com', 'system:kube-controller-manager', 'system:serviceaccount:monitoring:prometheus']) assert.ok(quietUsers.has(u));
});

test('demo: vigil run --demo prints the alerts as they happen', async () => {
  const t = await startTestService({ sources: [{ type: 'demo', speed: 20 }], outputs: [{ type: 'console', format: 'text' }] });
  try {
    const store = t.store as MemoryStore;
    await t.until(() => store.alerts.size === 12, 15_000);
    const lines = t.stdout.join('').trim().split('\n');
    assert.equal(lines.length, 12);
    assert.match(lines.find((l) => l.includes('cluster-admin'))!, /Critical ClusterRoleBinding grants cluster-admin .* \[cluster=demo region=local team=platform\]$/);
    assert.ok([...store.events.values()].every((e) => e.cluster === 'demo'));
  } finally {
    await t.stop();
  }
});
