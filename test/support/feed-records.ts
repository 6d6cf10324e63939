/**
 * Reading a feed's records back from its topic in tests: every record of the partition,
 * decoded (the registry's schema id in each frame picks the writer schema).
 */
import type { Runtime } from '../../bin/runtime.js';
import { extentsTopic } from '../../bin/runtime.js';
import { createRecordCodec } from '../../schemas/record-codec.js';
import type { ExtentlogRecord } from '../../schemas/extentlog-record.js';
import { readPartition } from './spine-processes.js';

export async function feedRecords(runtime: Runtime, feed: string): Promise<ExtentlogRecord[]> {
  const topic = extentsTopic(runtime.config.topicPrefix, feed);
  const codec = createRecordCodec({ registry: runtime.registry, subject: `${topic}-value` });
  const partitions = (await runtime.log.admin.offsets(topic)).map((entry) => entry.partition);
  const records: ExtentlogRecord[] = [];
  for (const partition of partitions)
    for (const message of await readPartition(runtime.log, topic, partition))
      if (message.value !== null) records.push(await codec.decode(message.value));
  return records;
}
