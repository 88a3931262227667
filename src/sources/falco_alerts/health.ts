/** Health of the Falco intake: the same push-source record as the audit webhook. */
export { PushHealth } from '../k8s_audit_webhook/health.ts';
