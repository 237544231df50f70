// Reproducible .tar.gz archives, written here rather than by tar(1) so that two builds give the
// same bytes: entries in the order given, fixed mtime, owner 0:0 without names, explicit modes
// (krew keeps them, so the executable must be 0755), and a gzip header without a timestamp or
// file name.
import { exec } from './exec';

export interface ArchiveEntry {
  name: string;
  mode: number;
  data: Buffer;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  const text = value.toString(8);
  if (text.length > width - 1) throw new Error(`${value} does not fit a ${width}-byte tar field`);
  return `${text.padStart(width - 1, '0')}\0`;
}

function header(entry: ArchiveEntry, mtime: number): Buffer {
  const name = Buffer.from(entry.name, 'utf8');
  if (name.length > 100) throw new Error(`tar entry name too long: ${entry.name}`);
  const block = Buffer.alloc(BLOCK);
  name.copy(block, 0);
  block.write(octal(entry.mode, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii'); // uid
  block.write(octal(0, 8), 116, 'ascii'); // gid
  block.write(octal(entry.data.length, 12), 124, 'ascii');
  block.write(octal(mtime, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii'); // checksum placeholder: eight spaces while summing
  block.write('0', 156, 'ascii'); // regular file
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** A ustar archive of entries, in the order given. */
export function tar(entries: readonly ArchiveEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry, mtime), entry.data, Buffer.alloc((BLOCK - (entry.data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(2 * BLOCK)); // end-of-archive marker
  return Buffer.concat(parts);
}

/**
 * tar + gzip. libdeflate's level 10 (Debian libdeflate-tools) makes 7% smaller archives than
 * zlib's best level, in less time, which keeps every archive well under the 40 MB budget; its
 * output is plain gzip, with no mtime or name in the header when compressing stdin.
 */
export async function tarGz(entries: readonly ArchiveEntry[], mtime: number): Promise<Buffer> {
  return (await exec('libdeflate-gzip', ['-10', '-c'], { input: tar(entries, mtime) })).stdout;
}
