// What an image needs to know about a Linux executable before putting it in a layer: which
// architecture it runs on (the image's platform comes from the binary itself, so it cannot lie)
// and that it is statically linked. A dynamic binary in an image without a libc fails only when
// the container starts, with a bare "no such file or directory" for the missing loader; Debian's
// dynamic `busybox` package installs the same /bin/busybox as `busybox-static`, so this is checked.

/** ELF e_machine values for the architectures the test images and the plugin are built for. */
const ARCHITECTURES: Record<number, string> = { 62: 'amd64', 183: 'arm64' };

const PT_INTERP = 3;

/** The OCI architecture of a statically linked ELF executable; throws, naming `what`, otherwise. */
export function staticElfArchitecture(data: Buffer, what: string): string {
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${what} is not an ELF executable`);
  const is64 = data[4] === 2;
  if (data[5] !== 1) throw new Error(`${what} is a big-endian ELF executable, which no image here is built for`);
  const machine = data.readUInt16LE(18);
  const architecture = ARCHITECTURES[machine];
  if (!architecture) throw new Error(`${what} is for ELF machine ${machine}, not amd64 or arm64`);
  const phoff = is64 ? Number(data.readBigUInt64LE(32)) : data.readUInt32LE(28);
  const phentsize = data.readUInt16LE(is64 ? 54 : 42);
  const phnum = data.readUInt16LE(is64 ? 56 : 44);
  if (phoff + phentsize * phnum > data.length) throw new Error(`${what} is a truncated ELF executable`);
  for (let i = 0; i < phnum; i++) {
    if (data.readUInt32LE(phoff + i * phentsize) === PT_INTERP) {
      throw new Error(`${what} is dynamically linked; an image without a libc needs a static executable`);
    }
  }
  return architecture;
}
