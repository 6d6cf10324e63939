import type { DiskPartitionLog } from './partition-log.js';
import type { StoreLogger, TopicConfig } from './store.js';

export async function compactPartition(
  _partition: DiskPartitionLog,
  _config: TopicConfig,
  _nowMs: number,
  _logger: StoreLogger,
): Promise<void> {}
