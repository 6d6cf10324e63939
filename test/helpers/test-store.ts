/** The store the protocol tests run against. */
import type { BrokerStore, TopicConfig } from '../../log/broker/storage/store.js';
import { MemoryStore } from '../fakes/memory-store.js';

export async function openTestStore(
  _dataDir: string,
  topicDefaults: TopicConfig,
): Promise<BrokerStore> {
  return new MemoryStore(topicDefaults);
}
