/**
 * The event every stage hands on. Sources build concrete events (a decoded audit Event, a
 * syscall record); field tables know how to read their own kind.
 */
export type SourceKind = 'k8s_audit' | 'syscall' | (string & {});

export interface VigilEvent {
  /** Falco source name the event belongs to. */
  readonly source: SourceKind;
  /** Event time in nanoseconds since the Unix epoch. */
  readonly timeNs: bigint;
  /** Enrichment labels (`cluster`, `region`, `team`, ...), readable as `vigil.<label>`. */
  labels?: Record<string, string>;
}
