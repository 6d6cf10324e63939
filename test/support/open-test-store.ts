/** Opens a broker store in a test's temp dir and closes it (if still open) before removal. */
import type { BrokerStore, BrokerStoreOptions } from '../../log/broker/storage/index.js';
import { openBrokerStore } from '../../log/broker/storage/index.js';
import type { TempDir } from './temp-dir.js';

export async function openTestStore(
  directory: TempDir,
  options: Omit<BrokerStoreOptions, 'dataDir'> = {},
): Promise<BrokerStore> {
  const store = await openBrokerStore({ dataDir: directory.path, ...options });
  directory.beforeRemoval(() => store.close());
  return store;
}
