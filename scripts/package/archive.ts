// Reproducible .tar.gz archives, written here rather than by tar(1) so that two builds give the
// same bytes: entries in the order given, fixed mtime, owner 0:0 without names, explicit modes
// (krew keeps them, so the executable must be 0755), and a gzip header without a timestamp or
// file name. Directories, symlinks and other owners are there for the image layers of
// scripts/images; an entry that uses none of them is written exactly as before.
import { exec } from './exec';

export interface ArchiveEntry {
  name: string;
  mode: number;
  /** A regular file's content; empty for a directory or a symlink. */
  data: Buffer;
  /** 'file' unless given. */
  type?: 'file' | 'directory' | 'symlink';
  /** A symlink's target, as written (relative or absolute). */
  linkname?: string;
  /** 0 unless given. */
  uid?: number;
  gid?: number;
}

/** ustar's typeflag for each entry type. */
const TYPEFLAG = { file: '0', symlink: '2', directory: '5' } as const;

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
  const type = entry.type ?? 'file';
  if (type !== 'file' && entry.data.length > 0) throw new Error(`tar entry ${entry.name}: a ${type} has no data`);
  const linkname = Buffer.from(entry.linkname ?? '', 'utf8');
  if ((type === 'symlink') !== (linkname.length > 0)) throw new Error(`tar entry ${entry.name}: only a symlink has a target, and it must have one`);
  if (linkname.length > 100) throw new Error(`tar entry ${entry.name}: symlink target too long: ${entry.linkname}`);
  name.copy(block, 0);
  block.write(octal(entry.mode, 8), 100, 'ascii');
  block.write(octal(entry.uid ?? 0, 8), 108, 'ascii');
  block.write(octal(entry.gid ?? 0, 8), 116, 'ascii');
  block.write(octal(entry.data.length, 12), 124, 'ascii');
  block.write(octal(mtime, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii'); // checksum placeholder: eight spaces while summing
  block.write(TYPEFLAG[type], 156, 'ascii');
  linkname.copy(block, 157);
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
