/**
 * Decoding one line of an audit log file (the API server's log backend writes one JSON `Event`
 * per line). A line that is not an audit event becomes an error naming the file and line.
 */
import { AuditEvent, type DecodeError, collectAuditValue } from '../../events/k8saudit.ts';
import { setRawText } from '../sink.ts';

export function decodeAuditLine(text: string, origin: string, line: number, out: Array<AuditEvent | DecodeError>): void {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    out.push({ error: `invalid JSON: ${(e as Error).message}`, origin, line });
    return;
  }
  const before = out.length;
  collectAuditValue(v, origin, line, out);
  // One event from the line: storage can keep the line itself as the raw event.
  if (out.length === before + 1) {
    const ev = out[before];
    if (ev instanceof AuditEvent) setRawText(ev, text);
  }
}
