/**
 * Durable producer ids for InitProducerId. Ids are reserved in blocks: before the first id
 * of a block is handed out, the block's end is written atomically to `producer-ids`, so
 * after any crash the store resumes above every id it may have handed out.
 *
 *   producer-ids (JSON): { "reservedBelow": <first id not yet reserved> }
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ignoreMissing, writeFileAtomic } from './durable-file.js';

const BLOCK_SIZE = 1000;
export const PRODUCER_IDS_FILE = 'producer-ids';

export class ProducerIdAllocator {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly filePath: string,
    private next: number,
    private reservedBelow: number,
  ) {}

  static async open(dataDir: string): Promise<ProducerIdAllocator> {
    const filePath = path.join(dataDir, PRODUCER_IDS_FILE);
    let reservedBelow = 0;
    try {
      const parsed = JSON.parse(await readFile(filePath, 'utf8')) as { reservedBelow?: unknown };
      if (typeof parsed.reservedBelow !== 'number' || !Number.isSafeInteger(parsed.reservedBelow))
        throw new Error(`${filePath}: expected {"reservedBelow": <integer>}`);
      reservedBelow = parsed.reservedBelow;
    } catch (error) {
      ignoreMissing(error);
    }
    return new ProducerIdAllocator(filePath, reservedBelow, reservedBelow);
  }

  allocate(): Promise<number> {
    const allocated = this.chain.then(async () => {
      if (this.next >= this.reservedBelow) {
        const reservedBelow = this.next + BLOCK_SIZE;
        await writeFileAtomic(this.filePath, JSON.stringify({ reservedBelow }));
        this.reservedBelow = reservedBelow;
      }
      const id = this.next;
      this.next += 1;
      return id;
    });
    this.chain = allocated.catch(() => undefined);
    return allocated;
  }
}
