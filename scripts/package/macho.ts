// Mach-O surgery for the darwin executables, done on Linux: no Debian or npm package signs Mach-O
// binaries. Apple-silicon kernels kill an arm64 executable without a valid code signature, and
// injecting the SEA blob invalidates Node's own (Developer ID) one. So: remove the signature,
// let postject inject, then add an ad-hoc signature: a SuperBlob holding one SHA-256
// CodeDirectory, the layout Apple's and Go's linkers write ("linker-signed"), which needs no
// certificate and, without the hardened-runtime flag, no JIT entitlements for V8.
//
// Only thin 64-bit little-endian images (what the Node.js releases are). Load commands are
// little-endian; code-signing blobs are big-endian.
import { createHash } from 'node:crypto';

const MH_MAGIC_64 = 0xfeedfacf;
const HEADER_SIZE = 32;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CPU_TYPE_ARM64 = 0x0100000c;

const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSSLOT_CODEDIRECTORY = 0;
/** Alternate CodeDirectories (Apple's signatures carry a SHA-1 one first and a SHA-256 one here). */
const CSSLOT_ALTERNATE_CODEDIRECTORIES = 0x1000;
const CS_HASHTYPE_SHA256 = 2;
const CS_ADHOC = 0x2;
const CS_LINKER_SIGNED = 0x20000;
const CS_EXECSEG_MAIN_BINARY = 0x1;
const CODEDIRECTORY_VERSION = 0x20400;
/** CodeDirectory up to and including the execSeg fields of version 0x20400. */
const CODEDIRECTORY_HEADER_SIZE = 88;
const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;

export interface Section {
  segment: string;
  name: string;
  size: number;
  offset: number;
}

export interface Segment {
  name: string;
  /** Offset of the load command in the file. */
  commandOffset: number;
  vmsize: number;
  fileoff: number;
  filesize: number;
  sections: Section[];
}

export interface MachO {
  cpuType: number;
  ncmds: number;
  sizeofcmds: number;
  segments: Segment[];
  /** The LC_CODE_SIGNATURE command, if any. */
  codeSignature?: { commandOffset: number; dataoff: number; datasize: number };
}

function cString(bytes: Buffer, start: number, length: number): string {
  const raw = bytes.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('latin1');
}

/** The header, segments (with sections) and code-signature command of a thin 64-bit Mach-O. */
export function parseMachO(bytes: Buffer): MachO {
  if (bytes.length < HEADER_SIZE || bytes.readUInt32LE(0) !== MH_MAGIC_64) {
    throw new Error('not a thin 64-bit little-endian Mach-O image');
  }
  const machO: MachO = {
    cpuType: bytes.readUInt32LE(4),
    ncmds: bytes.readUInt32LE(16),
    sizeofcmds: bytes.readUInt32LE(20),
    segments: [],
  };
  let offset = HEADER_SIZE;
  for (let i = 0; i < machO.ncmds; i++) {
    const cmd = bytes.readUInt32LE(offset);
    const cmdsize = bytes.readUInt32LE(offset + 4);
    if (cmdsize < 8 || offset + cmdsize > HEADER_SIZE + machO.sizeofcmds) throw new Error(`load command ${i} is malformed`);
    if (cmd === LC_SEGMENT_64) {
      const segment: Segment = {
        name: cString(bytes, offset + 8, 16),
        commandOffset: offset,
        vmsize: Number(bytes.readBigUInt64LE(offset + 32)),
        fileoff: Number(bytes.readBigUInt64LE(offset + 40)),
        filesize: Number(bytes.readBigUInt64LE(offset + 48)),
        sections: [],
      };
      const nsects = bytes.readUInt32LE(offset + 64);
      for (let s = 0; s < nsects; s++) {
        const at = offset + 72 + s * 80;
        segment.sections.push({
          name: cString(bytes, at, 16),
          segment: cString(bytes, at + 16, 16),
          size: Number(bytes.readBigUInt64LE(at + 40)),
          offset: bytes.readUInt32LE(at + 48),
        });
      }
      machO.segments.push(segment);
    } else if (cmd === LC_CODE_SIGNATURE) {
      machO.codeSignature = { commandOffset: offset, dataoff: bytes.readUInt32LE(offset + 8), datasize: bytes.readUInt32LE(offset + 12) };
    }
    offset += cmdsize;
  }
  return machO;
}

function linkedit(machO: MachO, fileLength: number): Segment {
  const segment = machO.segments.find((s) => s.name === '__LINKEDIT');
  if (!segment) throw new Error('no __LINKEDIT segment');
  if (machO.segments.some((s) => s !== segment && s.fileoff + s.filesize > segment.fileoff)) {
    throw new Error('__LINKEDIT is not the last segment in the file');
  }
  if (segment.fileoff + segment.filesize !== fileLength) throw new Error('__LINKEDIT does not end the file');
  return segment;
}

function setLinkeditSize(bytes: Buffer, segment: Segment, filesize: number, pageSize: number): void {
  bytes.writeBigUInt64LE(BigInt(filesize), segment.commandOffset + 48);
  // Keep the mapped size when it already covers the data (what the linkers do), else round up.
  if (segment.vmsize < filesize) {
    bytes.writeBigUInt64LE(BigInt(Math.ceil(filesize / pageSize) * pageSize), segment.commandOffset + 32);
  }
}

/** The image without its code signature: the load command removed, the signature data cut off. */
export function removeSignature(input: Buffer): Buffer {
  const machO = parseMachO(input);
  const signature = machO.codeSignature;
  if (!signature) return Buffer.from(input);
  if (signature.dataoff + signature.datasize > input.length) throw new Error('the code signature lies outside the file');
  const segment = linkedit(machO, input.length);
  const bytes = Buffer.from(input.subarray(0, signature.dataoff));
  const commandsEnd = HEADER_SIZE + machO.sizeofcmds;
  const size = 16;
  // Close the gap the command leaves, and zero the bytes freed at the end of the commands.
  input.copy(bytes, signature.commandOffset, signature.commandOffset + size, commandsEnd);
  bytes.fill(0, commandsEnd - size, commandsEnd);
  bytes.writeUInt32LE(machO.ncmds - 1, 16);
  bytes.writeUInt32LE(machO.sizeofcmds - size, 20);
  const moved = signature.commandOffset < segment.commandOffset ? size : 0;
  setLinkeditSize(bytes, { ...segment, commandOffset: segment.commandOffset - moved }, signature.dataoff - segment.fileoff, pageSizeOf(machO));
  return bytes;
}

function pageSizeOf(machO: MachO): number {
  return machO.cpuType === CPU_TYPE_ARM64 ? 0x4000 : 0x1000;
}

/**
 * Signs an unsigned image ad hoc: appends a SuperBlob with one CodeDirectory (SHA-256 of every
 * 4 KiB page up to the signature, identifier, execSeg = __TEXT of a main executable) and points a
 * new LC_CODE_SIGNATURE at it. Deterministic: the same input gives the same bytes.
 */
export function signAdHoc(input: Buffer, identifier: string): Buffer {
  const machO = parseMachO(input);
  if (machO.codeSignature) throw new Error('the image is already signed: remove the signature first');
  const segment = linkedit(machO, input.length);
  const text = machO.segments.find((s) => s.name === '__TEXT');
  if (!text) throw new Error('no __TEXT segment');

  // The new load command goes into the padding between the commands and the first section.
  const commandsEnd = HEADER_SIZE + machO.sizeofcmds;
  const firstSection = Math.min(...machO.segments.flatMap((s) => s.sections.map((sec) => sec.offset).filter((o) => o > 0)));
  if (commandsEnd + 16 > firstSection) throw new Error('no room for LC_CODE_SIGNATURE after the load commands');

  const codeLimit = Math.ceil(input.length / 16) * 16;
  const slots = Math.ceil(codeLimit / PAGE_SIZE);
  const id = Buffer.from(`${identifier}\0`, 'utf8');
  const hashOffset = CODEDIRECTORY_HEADER_SIZE + id.length;
  const directoryLength = hashOffset + slots * 32;
  const superBlobHeader = 12 + 8;
  const signatureSize = superBlobHeader + directoryLength;

  const bytes = Buffer.alloc(codeLimit + signatureSize);
  input.copy(bytes);
  bytes.writeUInt32LE(machO.ncmds + 1, 16);
  bytes.writeUInt32LE(machO.sizeofcmds + 16, 20);
  bytes.writeUInt32LE(LC_CODE_SIGNATURE, commandsEnd);
  bytes.writeUInt32LE(16, commandsEnd + 4);
  bytes.writeUInt32LE(codeLimit, commandsEnd + 8);
  bytes.writeUInt32LE(signatureSize, commandsEnd + 12);
  setLinkeditSize(bytes, segment, codeLimit + signatureSize - segment.fileoff, pageSizeOf(machO));

  let at = codeLimit;
  const u32 = (value: number) => {
    at = bytes.writeUInt32BE(value, at);
  };
  const u64 = (value: number) => {
    at = bytes.writeBigUInt64BE(BigInt(value), at);
  };
  const u8 = (value: number) => {
    at = bytes.writeUInt8(value, at);
  };
  u32(CSMAGIC_EMBEDDED_SIGNATURE);
  u32(signatureSize);
  u32(1); // blob count
  u32(CSSLOT_CODEDIRECTORY);
  u32(superBlobHeader);
  u32(CSMAGIC_CODEDIRECTORY);
  u32(directoryLength);
  u32(CODEDIRECTORY_VERSION);
  u32(CS_ADHOC | CS_LINKER_SIGNED);
  u32(hashOffset);
  u32(CODEDIRECTORY_HEADER_SIZE); // identOffset
  u32(0); // nSpecialSlots
  u32(slots);
  u32(codeLimit);
  u8(32); // hashSize
  u8(CS_HASHTYPE_SHA256);
  u8(0); // platform
  u8(PAGE_SHIFT);
  u32(0); // spare2
  u32(0); // scatterOffset
  u32(0); // teamOffset
  u32(0); // spare3
  u64(0); // codeLimit64 (codeLimit fits in 32 bits)
  u64(text.fileoff); // execSegBase
  u64(text.filesize); // execSegLimit
  u64(CS_EXECSEG_MAIN_BINARY);
  at += id.copy(bytes, at);
  // The hashed pages include the header edits above: hash last.
  for (let page = 0; page < slots; page++) {
    const start = page * PAGE_SIZE;
    at += createHash('sha256').update(bytes.subarray(start, Math.min(start + PAGE_SIZE, codeLimit))).digest().copy(bytes, at);
  }
  return bytes;
}

export interface CodeDirectory {
  identifier: string;
  flags: number;
  version: number;
  hashType: number;
  codeLimit: number;
  pageSize: number;
  nCodeSlots: number;
  execSegBase: number;
  execSegLimit: number;
  execSegFlags: number;
  /** Code pages whose hash does not match the file. */
  badPages: number[];
}

/**
 * Reads the embedded signature and checks every SHA-256 CodeDirectory against the file's pages.
 * Written independently of signAdHoc (it walks any SuperBlob, Apple's too), so it can check it.
 */
export function verifyCodeSignature(bytes: Buffer): { machO: MachO; directories: CodeDirectory[] } {
  const machO = parseMachO(bytes);
  const signature = machO.codeSignature;
  if (!signature) throw new Error('no LC_CODE_SIGNATURE');
  const blob = bytes.subarray(signature.dataoff, signature.dataoff + signature.datasize);
  if (blob.length !== signature.datasize || blob.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) {
    throw new Error('LC_CODE_SIGNATURE does not point at an embedded-signature SuperBlob');
  }
  if (blob.readUInt32BE(4) > blob.length) throw new Error('the SuperBlob is longer than its LC_CODE_SIGNATURE data');
  // The kernel maps the signature through __LINKEDIT, which must end the file.
  linkedit(machO, bytes.length);
  const directories: CodeDirectory[] = [];
  const count = blob.readUInt32BE(8);
  for (let i = 0; i < count; i++) {
    const type = blob.readUInt32BE(12 + i * 8);
    const offset = blob.readUInt32BE(16 + i * 8);
    const isDirectory = type === CSSLOT_CODEDIRECTORY || (type >= CSSLOT_ALTERNATE_CODEDIRECTORIES && type < CSSLOT_ALTERNATE_CODEDIRECTORIES + 5);
    if (!isDirectory) continue;
    const cd = blob.subarray(offset, offset + blob.readUInt32BE(offset + 4));
    if (cd.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY) throw new Error(`blob ${i} is not a CodeDirectory`);
    const hashType = cd.readUInt8(37);
    if (hashType !== CS_HASHTYPE_SHA256) continue; // SHA-1 legacy directories are not checked
    const hashOffset = cd.readUInt32BE(16);
    const hashSize = cd.readUInt8(36);
    const version = cd.readUInt32BE(8);
    const codeLimit64 = version >= 0x20300 ? Number(cd.readBigUInt64BE(56)) : 0;
    const directory: CodeDirectory = {
      identifier: cString(cd, cd.readUInt32BE(20), cd.length),
      flags: cd.readUInt32BE(12),
      version,
      hashType,
      codeLimit: codeLimit64 || cd.readUInt32BE(32),
      pageSize: 1 << cd.readUInt8(39),
      nCodeSlots: cd.readUInt32BE(28),
      execSegBase: version >= 0x20400 ? Number(cd.readBigUInt64BE(64)) : 0,
      execSegLimit: version >= 0x20400 ? Number(cd.readBigUInt64BE(72)) : 0,
      execSegFlags: version >= 0x20400 ? Number(cd.readBigUInt64BE(80)) : 0,
      badPages: [],
    };
    if (directory.codeLimit !== signature.dataoff) throw new Error(`codeLimit ${directory.codeLimit} is not the signature offset ${signature.dataoff}`);
    if (directory.nCodeSlots !== Math.ceil(directory.codeLimit / directory.pageSize)) throw new Error('nCodeSlots does not cover codeLimit');
    for (let page = 0; page < directory.nCodeSlots; page++) {
      const start = page * directory.pageSize;
      const actual = createHash('sha256').update(bytes.subarray(start, Math.min(start + directory.pageSize, directory.codeLimit))).digest();
      const stored = cd.subarray(hashOffset + page * hashSize, hashOffset + (page + 1) * hashSize);
      if (!actual.subarray(0, hashSize).equals(stored)) directory.badPages.push(page);
    }
    directories.push(directory);
  }
  if (directories.length === 0) throw new Error('the signature has no SHA-256 CodeDirectory');
  return { machO, directories };
}
