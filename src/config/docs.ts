/**
 * `docs/config.md`, generated from the schema (`npm run docs:config`); a test keeps the
 * committed file equal to what this produces. The schema's descriptions and defaults are the
 * documentation, so they cannot drift apart.
 */
import { z } from 'zod';
import { configSchema } from './schema.ts';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  exclusiveMinimum?: number;
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  format?: string;
}

const HEADER = `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`; do not edit by hand. -->

\`vigil run --config vigil.yaml\` reads one YAML file. Every key is optional: with no file at all
Vigil listens on 127.0.0.1:8765, keeps its data under \`./data\` (DuckDB), takes audit events on
\`POST /k8s-audit\` and Falco alerts on \`POST /\` and \`/falco\`, and prints alerts on the console.

Unknown keys and bad values are errors that name the file, line, column and key:

\`\`\`
vigil.yaml:12:5: sources[0].max_line_bytes: Too small: expected number to be >=1024
vigil.yaml:14:3: pipeline.spool.fsink: unknown key 'fsink'
\`\`\`

Sizes are in bytes and durations in milliseconds; the unit is in the option's name
(\`max_bytes\`, \`flush_interval_ms\`). Sources, outputs and storage choose their variant with
\`type:\`. \`--listen HOST:PORT\` and \`--data DIR\` override \`listen\` and \`data_dir\`; \`--demo\` adds
the \`demo\` source.

An example:

\`\`\`yaml
listen: 0.0.0.0:8765
data_dir: /var/lib/vigil
sources:
  - type: k8s_audit_file
    include: [/var/log/kubernetes/audit/audit*.log]
    exclude: ["*.gz"]
    labels: { cluster: prod-eu-1, region: eu-west-1, team: platform }
  - type: k8s_audit_webhook          # POST /k8s-audit and /k8s-audit/<cluster>
    auth_token: change-me
  - type: falco_alerts               # Falco's http_output, as for Falcosidekick
outputs:
  - type: console
    min_priority: warning
  - type: file
    name: archive
    path: alerts.jsonl
routes:
  - match: { tags: [mitre_privilege_escalation] }
    outputs: [console, archive]
  - match: { min_priority: critical }
    outputs: [console]
\`\`\`
`;

export function renderConfigDocs(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [HEADER];
  section(out, 'Top level', '', root, 2);
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

function section(out: string[], title: string, prefix: string, s: JsonSchema, level: number): void {
  out.push(`${'#'.repeat(level)} ${title}\n`);
  if (s.description && prefix) out.push(s.description + '\n');
  const props = s.properties ?? {};
  const rows: string[] = [];
  const nested: Array<[string, JsonSchema]> = [];
  for (const [k, v] of Object.entries(props)) {
    if (k === 'type' && v.const !== undefined) continue;
    const key = prefix ? `${prefix}.${k}` : k;
    const variants = unionOf(v) ?? (v.items ? unionOf(v.items) : undefined);
    if (isObject(v) || variants) nested.push([key, v]);
    const req = s.required?.includes(k) && v.default === undefined ? ' (required)' : '';
    rows.push(`| \`${k}\`${req} | ${typeText(v)} | ${defaultText(v)} | ${cell(v.description ?? (v.items?.description ?? ''))} |`);
  }
  if (rows.length) {
    out.push('| key | type | default | description |', '|---|---|---|---|', ...rows, '');
  }
  for (const [key, v] of nested) {
    const variants = unionOf(v) ?? (v.items ? unionOf(v.items) : undefined);
    if (variants) {
      out.push(`${'#'.repeat(level + 1)} \`${key}\`\n`);
      if (v.description) out.push(v.description + '\n');
      for (const variant of variants) {
        const t = variant.properties?.type?.const;
        section(out, `\`${key}\`: \`type: ${String(t)}\``, key, { ...variant, description: variant.description }, level + 2);
      }
    } else {
      const obj = v.items && isObject(v.items) ? v.items : v;
      section(out, `\`${key}${v.items ? '[]' : ''}\``, key + (v.items ? '[]' : ''), { ...obj, description: v.description ?? obj.description }, level + 1);
    }
  }
}

function unionOf(s: JsonSchema): JsonSchema[] | undefined {
  const u = s.oneOf ?? s.anyOf;
  return u && u.every((x) => x.properties?.type?.const !== undefined) ? u : undefined;
}

function isObject(s: JsonSchema): boolean {
  if (s.type === 'object' && s.properties && Object.keys(s.properties).length > 0) return true;
  return s.type === 'array' && !!s.items && s.items.type === 'object' && !!s.items.properties && !unionOf(s.items);
}

function typeText(s: JsonSchema): string {
  const u = unionOf(s);
  if (u) return 'one of: ' + u.map((x) => `\`type: ${String(x.properties!.type!.const)}\``).join(', ');
  if (s.enum) return s.enum.map((e) => `\`${String(e)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.type === 'array') {
    const iu = s.items ? unionOf(s.items) : undefined;
    if (iu) return 'list of: ' + iu.map((x) => `\`${String(x.properties!.type!.const)}\``).join(', ');
    return `list of ${s.items ? typeText(s.items) : 'any'}`;
  }
  if (s.type === 'object') {
    if (s.properties && Object.keys(s.properties).length) return 'object';
    return 'map of string to string';
  }
  if (s.type === 'integer') return s.minimum !== undefined ? `integer ≥ ${s.minimum}` : 'integer';
  if (s.type === 'number') return s.exclusiveMinimum !== undefined ? `number > ${s.exclusiveMinimum}` : 'number';
  if (s.format === 'uri') return 'URL';
  return String(s.type ?? 'any');
}

function defaultText(s: JsonSchema): string {
  if (s.default === undefined) return '';
  const d = s.default;
  if (typeof d === 'number' && d >= 1024 && d % 1024 === 0) {
    const units: Array<[number, string]> = [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']];
    for (const [n, u] of units) if (d % n === 0) return `\`${d}\` (${d / n} ${u})`;
  }
  if (typeof d === 'object' && d !== null && !Array.isArray(d) && Object.keys(d).length === 0) return '';
  return `\`${JSON.stringify(d)}\``;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
