/**
 * Topic metadata on disk. A topic is a directory `topics/<name>/` holding `topic.json` and
 * one directory per partition. Creation builds the whole directory under `staging/` and
 * moves it into `topics/` with one rename; deletion moves it out to `deleting/` with one
 * rename before removing it. A crash therefore leaves a topic either complete or absent,
 * and open() clears whatever `staging/` and `deleting/` still hold. `topic.json` is only
 * ever replaced atomically.
 *
 *   topic.json: { "version": 1, "name", "partitions", "config": TopicConfig, "createdAtMs" }
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  fsyncDirectory,
  ignoreMissing,
  removeTree,
  renameDurably,
  writeFileAtomic,
} from './durable-file.js';
import { resolveTopicConfig } from './topic-config.js';
import type { StoreLogger, TopicConfig, TopicMetadata } from './store.js';

const METADATA_FILE = 'topic.json';
const METADATA_VERSION = 1;

export class TopicRegistry {
  private readonly topicsDir: string;
  private readonly stagingDir: string;
  private readonly deletingDir: string;

  constructor(dataDir: string) {
    this.topicsDir = path.join(dataDir, 'topics');
    this.stagingDir = path.join(dataDir, 'staging');
    this.deletingDir = path.join(dataDir, 'deleting');
  }

  /** Prepares the directories and returns the topics that exist completely. */
  async open(defaults: TopicConfig, logger: StoreLogger): Promise<TopicMetadata[]> {
    for (const directory of [this.topicsDir, this.stagingDir, this.deletingDir])
      await mkdir(directory, { recursive: true });
    for (const leftover of [this.stagingDir, this.deletingDir])
      for (const name of await readdir(leftover)) await removeTree(path.join(leftover, name));
    const topics: TopicMetadata[] = [];
    for (const name of await readdir(this.topicsDir)) {
      const metadata = await this.readMetadata(name, defaults);
      if (metadata === null)
        logger.error(
          { topic: name, directory: path.join(this.topicsDir, name) },
          `ignoring a topic directory without readable ${METADATA_FILE}; restore the file or remove the directory`,
        );
      else topics.push(metadata);
    }
    return topics;
  }

  partitionDirectory(topic: string, partition: number): string {
    return path.join(this.topicsDir, topic, String(partition));
  }

  async create(metadata: TopicMetadata): Promise<void> {
    const staged = path.join(this.stagingDir, randomUUID());
    await mkdir(staged);
    for (let partition = 0; partition < metadata.partitions; partition += 1)
      await mkdir(path.join(staged, String(partition)));
    await writeFileAtomic(path.join(staged, METADATA_FILE), encode(metadata));
    await fsyncDirectory(staged);
    await renameDurably(staged, path.join(this.topicsDir, metadata.name));
  }

  /** Adds partition directories up to `metadata.partitions`, then records the new count. */
  async grow(metadata: TopicMetadata, previousCount: number): Promise<void> {
    const topicDir = path.join(this.topicsDir, metadata.name);
    for (let partition = previousCount; partition < metadata.partitions; partition += 1)
      await mkdir(path.join(topicDir, String(partition)), { recursive: true });
    await fsyncDirectory(topicDir);
    await writeFileAtomic(path.join(topicDir, METADATA_FILE), encode(metadata));
  }

  /** Moves the topic out of the namespace (durably), then removes its files. */
  async remove(name: string): Promise<void> {
    const doomed = path.join(this.deletingDir, `${name}.${randomUUID()}`);
    await renameDurably(path.join(this.topicsDir, name), doomed);
    await removeTree(doomed);
  }

  /** Partition directories beyond the recorded count (left by a crash during a grow). */
  async strayPartitionDirectories(metadata: TopicMetadata): Promise<string[]> {
    const names = await readdir(path.join(this.topicsDir, metadata.name));
    return names
      .filter((name) => /^\d+$/.test(name) && Number(name) >= metadata.partitions)
      .map((name) => path.join(this.topicsDir, metadata.name, name));
  }

  private async readMetadata(name: string, defaults: TopicConfig): Promise<TopicMetadata | null> {
    let text: string;
    try {
      text = await readFile(path.join(this.topicsDir, name, METADATA_FILE), 'utf8');
    } catch (error) {
      ignoreMissing(error);
      return null;
    }
    try {
      const parsed = JSON.parse(text) as Partial<TopicMetadata> & { version?: unknown };
      if (
        parsed.version !== METADATA_VERSION ||
        parsed.name !== name ||
        typeof parsed.partitions !== 'number' ||
        typeof parsed.createdAtMs !== 'number'
      )
        return null;
      return Object.freeze({
        name,
        partitions: parsed.partitions,
        config: resolveTopicConfig(defaults, parsed.config ?? {}),
        createdAtMs: parsed.createdAtMs,
      });
    } catch {
      return null;
    }
  }
}

function encode(metadata: TopicMetadata): string {
  return JSON.stringify({ version: METADATA_VERSION, ...metadata });
}
