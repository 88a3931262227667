/**
 * Decoding one line of an audit log file (the API server's log backend writes one JSON `Event`
 * per line). A line that is not an audit event becomes an error naming the file and line.
 */
import { type AuditEvent, type DecodeError, collectAuditValue } from '../../events/k8saudit.ts';

export function decodeAuditLine(text: string, origin: string, line: number, out: Array<AuditEvent | DecodeError>): void {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    out.push({ error: `invalid JSON: ${(e as Error).message}`, origin, line });
    return;
  }
  collectAuditValue(v, origin, line, out);
}
