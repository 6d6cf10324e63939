/**
 * Calls every function of the iscsi addon `iterations` times (argv[2]) against a running
 * target, for the valgrind leak run: logins with and without CHAP and refused ones, every
 * command with data in both directions, CHECK CONDITIONs, a refused portal, commands on a
 * closed session and sessions closed with commands in flight — so every completion path of
 * the addon runs. argv[3] is the portal, argv[4] a target IQN (LUN 1, no CHAP), argv[5] one
 * with one-way CHAP (argv[6] user, argv[7] secret), argv[8] a refused portal.
 */
import process from 'node:process';
import { IscsiSession } from '../../native/iscsi/index.js';

async function main(): Promise<void> {
  const [, , count, portal, plainIqn, chapIqn, username, secret, refusedPortal] = process.argv;
  const iterations = Number(count ?? '10');
  const base = { portal: portal!, lun: 1, initiatorIqn: 'iqn.2024-01.io.extentlog:valgrind' };
  const swallow = () => undefined;
  const data = Buffer.alloc(64 * 1024, 0x5a);
  for (let round = 0; round < iterations; round++) {
    const session = await IscsiSession.open({
      ...base,
      targetIqn: plainIqn!,
      extendedCdbs: round % 2 === 0,
    });
    await session.readCapacity16();
    await session.blockLimits();
    await session.logicalBlockProvisioning();
    await Promise.all(
      Array.from({ length: 8 }, (_, index) => session.write16(index * 128, 512, data)),
    );
    await session.read16(0, 512, Buffer.alloc(data.length));
    await session.synchronizeCache16();
    await session.unmap([{ lba: 0, blocks: 128 }]);
    await session.writeSame16(128, 128, 512, { unmap: true });
    await session.writeSame16(256, 8, 512, { unmap: false });
    await session.getLbaStatus16({ lba: 0, allocationBytes: 1024 });
    await session.getLbaStatus16({ lba: 0, allocationBytes: 1024, reportType: 1 });
    if (round % 2 === 0)
      await session
        .getLbaStatus32({ lba: 0, scanLengthBlocks: 256, allocationBytes: 1024 })
        .catch(swallow);
    await session.inquiryVpd(0x55).catch(swallow); // ILLEGAL REQUEST
    await session.write16(1 << 40, 512, data).catch(swallow); // LBA out of range
    const inFlight = session.write16(0, 512, data).catch(swallow);
    await session.close(); // with a command in flight
    await inFlight;
    await session.testUnitReady().catch(swallow); // closed
    const chap = await IscsiSession.open({
      ...base,
      targetIqn: chapIqn!,
      chap: { username: username!, secret: secret! },
    });
    await chap.testUnitReady();
    await chap.close();
    await IscsiSession.open({
      ...base,
      targetIqn: chapIqn!,
      chap: { username: username!, secret: 'wrong-secret-xyz' },
    }).catch(swallow);
    await IscsiSession.open({ ...base, targetIqn: 'iqn.2024-01.io.extentlog:missing' }).catch(
      swallow,
    );
    await IscsiSession.open({ ...base, portal: refusedPortal!, targetIqn: plainIqn! }).catch(
      swallow,
    );
  }
}

main().then(
  () => process.stdout.write('exercised\n'),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  },
);
