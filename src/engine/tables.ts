/** The field tables of every source this build knows, keyed by source name. */
import { k8sAuditFields } from '../fields/k8saudit/table.ts';
import { syscallFields } from '../fields/syscall/table.ts';
import type { FieldTable } from '../fields/types.ts';

export function defaultTables(): Map<string, FieldTable<unknown>> {
  return new Map<string, FieldTable<unknown>>([
    ['syscall', syscallFields as FieldTable<unknown>],
    ['k8s_audit', k8sAuditFields as FieldTable<unknown>],
  ]);
}
