/**
 * Calls every function of the fileio addon `iterations` times (argv[2], default 1000), for
 * the valgrind leak run: successes, kernel errors and invalid arguments alike, so every
 * worker's OnOK and OnError path runs. Argument argv[3] is a scratch directory; argv[4] an
 * optional block device.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import * as fileio from '../../native/fileio/index.js';

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? '1000');
  const scratch = process.argv[3] ?? '.';
  const device = process.argv[4];
  const file = await open(path.join(scratch, 'exercise.img'), 'w+');
  await file.truncate(1024 * 1024);
  const devHandle = device === undefined ? null : await open(device, 'r+');
  const data = Buffer.alloc(2 * 1024 * 1024, 7);
  const swallow = () => undefined;
  for (let round = 0; round < iterations; round++) {
    await file.write(data, 0, 8192, 0);
    await fileio.fallocate(file.fd, 'punch-hole', 0, 4096);
    await fileio.fallocate(file.fd, 'zero-range-keep-size', 4096, 4096);
    await fileio.fallocate(file.fd, 'allocate-keep-size', 0, 8192);
    await fileio.seekData(file.fd, 0);
    await fileio.seekHole(file.fd, 0);
    await fileio.seekData(file.fd, 4 * 1024 * 1024); // ENXIO → -1
    await fileio.seekData(1_000_000, 0).catch(swallow); // EBADF
    await fileio.blockDeviceSizeBytes(file.fd).catch(swallow); // ENOTTY
    await fileio.blockDeviceSectorSizes(file.fd).catch(swallow);
    await fileio.zeroOutRange(file.fd, 0, 512).catch(swallow);
    await fileio.fallocate(-1, 'punch-hole', 0, 1).catch(swallow); // invalid argument
    fileio.hashBlocksSync(data.subarray(0, 12345), 4096);
    await fileio.hashBlocks(data, 4096); // on the thread pool
    if (devHandle) {
      await fileio.blockDeviceSizeBytes(devHandle.fd);
      await fileio.blockDeviceSectorSizes(devHandle.fd);
      await fileio.zeroOutRange(devHandle.fd, 0, 4096);
      await fileio.discardRange(devHandle.fd, 4096, 4096);
    }
  }
  await devHandle?.close();
  await file.close();
}

main().then(
  () => process.stdout.write('exercised\n'),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  },
);
