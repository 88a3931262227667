/**
 * `vigil run` without a database, for ingest_http.ts with BENCH_STORAGE=null: the whole service
 * (webhook, spool with fsync, de-duplication, detection, the store module's `toStoredEvent`:
 * redaction and typed columns) with a store that counts rows and keeps none. What the
 * pipeline costs in front of storage, without the memory store's growing heap (which keeps
 * every event and would measure the garbage collector instead).
 *
 * Usage: ingest_server.ts <config.yaml>
 */
import { loadConfigFile } from '../../src/config/load.ts';
import { startService } from '../../src/cli/service.ts';
import { toStoredEvent } from '../../src/store/index.ts';
import { MemoryStore } from '../../src/pipeline/memstore.ts';
import type { StoredAlert, StoredEvent } from '../../src/store/types.ts';

/** Counts what it is given (the bench's events are all new). */
class NullStore extends MemoryStore {
  override async writeEvents(batch: StoredEvent[]): Promise<number> {
    return batch.length;
  }

  override async writeAlerts(batch: StoredAlert[]): Promise<number> {
    return batch.length;
  }
}

const svc = await startService(loadConfigFile(process.argv[2]!), { store: new NullStore(), toStoredEvent });
const stop = (): void => void svc.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
