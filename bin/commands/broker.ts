/** `extentlog broker`: the embedded broker and schema registry as a standalone process. */
import process from 'node:process';

export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('extentlog broker: not built yet\n');
  return 1;
}
