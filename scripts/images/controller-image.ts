// The controller's image (`sync --watch` in a cluster): one OCI image index for linux/amd64 and
// linux/arm64, built without a container daemon or the internet from what `npm run package`
// wrote to dist/release/, and written as an OCI image layout (dist/image/) that skopeo, crane
// and oras push as it is; --push pushes it with push.ts.
//
//   npm run image [-- --release DIR] [--out DIR] [--push REGISTRY/REPOSITORY[:TAG]] [--ca FILE]
//                    [--username USER --password-file FILE] [--no-build]
//
// Each image is made the way distroless images are: the standalone executable at
// /usr/local/bin/kubectl-pullsecret and only the userland it needs — the shared libraries it
// links (the closure of its DT_NEEDED entries and its loader, read from the ELF files
// themselves), taken from Debian packages whose versions are recorded in
// /var/lib/dpkg/status.d/ and whose copyright files ship in /usr/share/doc/; /etc/passwd and
// /etc/group with `nonroot` (65532), /etc/nsswitch.conf, /tmp. No shell, no package manager.
// - linux/amd64: the host's installed libc6, libgcc-s1, libstdc++6 (checked against dpkg's
//   md5sums, so a file is exactly what the package version installed).
// - linux/arm64: Debian's cross packages libc6-arm64-cross, libgcc-s1-arm64-cross,
//   libstdc++6-arm64-cross, moved from /usr/aarch64-linux-gnu/lib to where a native arm64 Debian
//   has them (/lib/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu): the cross loader's built-in
//   search path is the native one.
// Two layers per image: the userland, which stays the same blob from one release to the next
// (a push sends it once), and the executable with the project's LICENSE.
//
// Prints the index digest on stdout (`sha256:…`), or with --push one
// `registry/repository:tag@sha256:…` line; sizes and times go to stderr. Reproducible: the same
// archives, packages and SOURCE_DATE_EPOCH (else 0) give the same index digest.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { MEDIA_TYPE, buildImage, buildIndex, platformName, sha256Digest, sourceDateEpoch, type Blob, type Image, type ImageIndex, type LayerEntry, type Platform } from './oci';
import { UsageError, checkNames, credentialsFrom, push, registryBaseUrl, type Credentials, type PushResult } from './push';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

/** Where the executable sits in the image (on PATH, as in most images of a single tool). */
export const EXECUTABLE_PATH = '/usr/local/bin/kubectl-pullsecret';
export const NONROOT = 65532;
/** distroless's PATH: nothing but the executable is on it, but exec-ing a name should find it. */
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SOURCE_URL = 'https://github.com/kubectl-pullsecret/kubectl-pullsecret';

interface DebianLibraryPackage {
  name: string;
  /** The directory the package installs its libraries into on this machine. */
  hostDir: string;
  /** Where they go in the image. */
  imageDir: string;
}

interface ImagePlatform {
  platform: Platform;
  /** The release archive's `<os>_<arch>`. */
  target: string;
  /** ELF e_machine of the executable and of every library taken. */
  machine: number;
  packages: DebianLibraryPackage[];
}

export const PLATFORMS: readonly ImagePlatform[] = [
  {
    platform: { os: 'linux', architecture: 'amd64' },
    target: 'linux_amd64',
    machine: 62,
    packages: [
      { name: 'libc6', hostDir: '/lib/x86_64-linux-gnu', imageDir: '/lib/x86_64-linux-gnu' },
      { name: 'libgcc-s1', hostDir: '/lib/x86_64-linux-gnu', imageDir: '/lib/x86_64-linux-gnu' },
      { name: 'libstdc++6', hostDir: '/usr/lib/x86_64-linux-gnu', imageDir: '/usr/lib/x86_64-linux-gnu' },
    ],
  },
  {
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    target: 'linux_arm64',
    machine: 183,
    packages: [
      { name: 'libc6-arm64-cross', hostDir: '/usr/aarch64-linux-gnu/lib', imageDir: '/lib/aarch64-linux-gnu' },
      { name: 'libgcc-s1-arm64-cross', hostDir: '/usr/aarch64-linux-gnu/lib', imageDir: '/lib/aarch64-linux-gnu' },
      { name: 'libstdc++6-arm64-cross', hostDir: '/usr/aarch64-linux-gnu/lib', imageDir: '/usr/lib/aarch64-linux-gnu' },
    ],
  },
];

// ------------------------------------------------------------------------------------------------
// ELF: what an executable or a library needs from the dynamic loader.

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

export interface ElfDynamic {
  machine: number;
  /** PT_INTERP: the loader's absolute path; undefined for a library. */
  interpreter: string | undefined;
  /** DT_NEEDED sonames, in order. */
  needed: string[];
}

/** Reads a 64-bit little-endian ELF file's loader and DT_NEEDED entries (readelf -d, in short). */
export function elfDynamic(data: Buffer, what: string): ElfDynamic {
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${what} is not an ELF file`);
  if (data[4] !== 2 || data[5] !== 1) throw new Error(`${what} is not a 64-bit little-endian ELF file`);
  const machine = data.readUInt16LE(18);
  const phoff = Number(data.readBigUInt64LE(32));
  const phentsize = data.readUInt16LE(54);
  const phnum = data.readUInt16LE(56);
  if (phoff + phentsize * phnum > data.length) throw new Error(`${what} is a truncated ELF file`);
  const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
  let interpreter: string | undefined;
  let dynamic: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = data.readUInt32LE(at);
    const offset = data.readBigUInt64LE(at + 8);
    const vaddr = data.readBigUInt64LE(at + 16);
    const filesz = data.readBigUInt64LE(at + 32);
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    if (type === PT_INTERP) interpreter = data.subarray(Number(offset), Number(offset + filesz)).toString('latin1').replace(/\0.*$/s, '');
    if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) };
  }
  if (!dynamic) return { machine, interpreter, needed: [] };
  const neededOffsets: bigint[] = [];
  let strtab: bigint | undefined;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = data.readBigInt64LE(at);
    const value = data.readBigUInt64LE(at + 8);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededOffsets.push(value);
    if (tag === DT_STRTAB) strtab = value;
  }
  if (neededOffsets.length === 0) return { machine, interpreter, needed: [] };
  // DT_STRTAB is an address in memory: the segment that loads it says where it is in the file.
  const segment = strtab === undefined ? undefined : loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
  if (!segment) throw new Error(`${what}: its dynamic string table is not in a loaded segment`);
  const table = Number(strtab! - segment.vaddr + segment.offset);
  const needed = neededOffsets.map((offset) => {
    const start = table + Number(offset);
    const end = data.indexOf(0, start);
    return data.subarray(start, end).toString('latin1');
  });
  return { machine, interpreter, needed };
}

// ------------------------------------------------------------------------------------------------
// Debian packages on this machine.

export interface DebianPackage {
  name: string;
  version: string;
  architecture: string;
  source: string;
}

function dpkgQuery(args: string[]): string {
  try {
    return execFileSync('dpkg-query', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stdout?: string };
    if (e.code === 'ENOENT') throw new Error('the image is built from Debian packages, and dpkg-query is not here (a Debian or Ubuntu machine is needed)');
    // dpkg-query exits 1 when a package is unknown but still prints the others.
    if (typeof e.stdout === 'string') return e.stdout;
    throw error;
  }
}

/** Name, version, architecture and source of each package; throws naming those not installed. */
export function debianPackages(names: readonly string[]): Map<string, DebianPackage> {
  const out = dpkgQuery(['-W', '-f', '${binary:Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\t${db:Status-Status}\n', ...names]);
  const found = new Map<string, DebianPackage>();
  for (const line of out.split('\n')) {
    const [binary, version, architecture, source, sourceVersion, status] = line.split('\t');
    if (!binary || status !== 'installed') continue;
    const name = binary.replace(/:.*$/, '');
    found.set(name, { name, version: version!, architecture: architecture!, source: sourceVersion === version ? source! : `${source} (${sourceVersion})` });
  }
  const missing = names.filter((name) => !found.has(name));
  if (missing.length) throw new Error(`the image needs the Debian packages ${missing.join(', ')} installed (apt-get install ${missing.join(' ')}; .ci/run installs them)`);
  return found;
}

/** The files a package installed: path -> md5, from dpkg's database. */
function packageMd5sums(name: string, architecture: string): Map<string, string> {
  const candidates = [`/var/lib/dpkg/info/${name}:${architecture}.md5sums`, `/var/lib/dpkg/info/${name}.md5sums`];
  const file = candidates.find((candidate) => existsSync(candidate));
  if (!file) throw new Error(`dpkg has no md5sums for ${name}: reinstall it (apt-get install --reinstall ${name})`);
  const sums = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([0-9a-f]{32}) {2}(.+)$/.exec(line);
    if (match) sums.set(`/${match[2]}`, match[1]!);
  }
  return sums;
}

/** The dpkg status stanza scanners read from distroless images (/var/lib/dpkg/status.d/<name>). */
function statusStanza(pkg: DebianPackage): string {
  return `Package: ${pkg.name}\nStatus: install ok installed\nVersion: ${pkg.version}\nArchitecture: ${pkg.architecture}\nSource: ${pkg.source}\n`;
}

// ------------------------------------------------------------------------------------------------
// The userland of one platform.

interface Library {
  soname: string;
  pkg: DebianPackage;
  hostPath: string;
  imagePath: string;
}

export interface Userland {
  entries: LayerEntry[];
  packages: DebianPackage[];
  /** Image paths of the libraries and loader taken (files and links). */
  libraries: string[];
}

/**
 * Everything the executable needs from the system, for `target`: its loader and the closure of
 * its DT_NEEDED libraries, each found in one of the platform's packages and checked against
 * dpkg's md5sums; the packages' copyright files and status; the user database; /tmp.
 */
export function userland(target: ImagePlatform, executable: Buffer): Userland {
  const packages = debianPackages(target.packages.map((p) => p.name));
  // soname (file name in the package's library directory) -> where it comes from and goes.
  const available = new Map<string, Library>();
  for (const spec of target.packages) {
    const pkg = packages.get(spec.name)!;
    const sums = packageMd5sums(pkg.name, pkg.architecture);
    const listed = dpkgQuery(['-L', pkg.name]).split('\n');
    for (const hostPath of listed) {
      if (path.posix.dirname(hostPath) !== spec.hostDir || !/\.so(\.|$)/.test(hostPath)) continue;
      const soname = path.posix.basename(hostPath);
      const stat = lstatSync(hostPath, { throwIfNoEntry: false });
      if (!stat) throw new Error(`${hostPath} of package ${pkg.name} is missing: reinstall it (apt-get install --reinstall ${pkg.name})`);
      if (stat.isFile()) {
        const md5 = createHash('md5').update(readFileSync(hostPath)).digest('hex');
        if (sums.get(hostPath) !== md5) throw new Error(`${hostPath} is not what ${pkg.name} ${pkg.version} installed (dpkg md5sums differ): reinstall it`);
      }
      available.set(soname, { soname, pkg, hostPath, imagePath: path.posix.join(spec.imageDir, soname) });
    }
  }

  const entries = new Map<string, LayerEntry>();
  const used = new Set<string>();
  const what = `the ${platformName(target.platform)} executable`;
  const info = elfDynamic(executable, what);
  if (info.machine !== target.machine) throw new Error(`${what} is for ELF machine ${info.machine}, not ${target.machine}: is the release archive from another platform?`);
  if (!info.interpreter) throw new Error(`${what} has no program interpreter; a standalone Node executable is dynamically linked`);

  /** Adds a library (and what it links, recursively); returns its image path. */
  const take = (soname: string, neededBy: string): string => {
    const library = available.get(soname);
    if (!library) throw new Error(`${neededBy} needs ${soname}, which none of ${target.packages.map((p) => p.name).join(', ')} has`);
    if (entries.has(library.imagePath)) return library.imagePath;
    used.add(library.pkg.name);
    const stat = lstatSync(library.hostPath);
    if (stat.isSymbolicLink()) {
      // A soname link (libstdc++.so.6 -> libstdc++.so.6.0.30): kept a link, to the file next to it.
      const linked = readlinkSync(library.hostPath);
      if (linked.includes('/')) throw new Error(`${library.hostPath} links outside its directory (${linked}); not taken`);
      entries.set(library.imagePath, { path: library.imagePath, symlink: linked });
      take(linked, library.hostPath);
      return library.imagePath;
    }
    const content = readFileSync(library.hostPath);
    const linked = elfDynamic(content, library.hostPath);
    if (linked.machine !== target.machine) throw new Error(`${library.hostPath} is for ELF machine ${linked.machine}, not ${target.machine}`);
    entries.set(library.imagePath, { path: library.imagePath, mode: stat.mode & 0o777, content });
    for (const next of linked.needed) take(next, library.hostPath);
    return library.imagePath;
  };

  // The loader, at the path the executable asks for: a relative link to the file in the library
  // directory, as Debian installs it (relative, so that it also resolves under qemu -L ROOT).
  const loader = take(path.posix.basename(info.interpreter), what);
  if (loader !== info.interpreter) {
    entries.set(info.interpreter, { path: info.interpreter, symlink: path.posix.relative(path.posix.dirname(info.interpreter), loader) });
  }
  for (const soname of info.needed) take(soname, what);
  const libraries = [...entries.keys()].sort();

  const taken = [...used].sort().map((name) => packages.get(name)!);
  for (const pkg of taken) {
    // Debian's gcc libraries' doc directories are links to gcc-12-base's; the text is copied.
    const copyright = `/usr/share/doc/${pkg.name}/copyright`;
    if (!existsSync(copyright)) throw new Error(`${copyright} is missing: the image must carry the licence of ${pkg.name}`);
    entries.set(copyright, { path: copyright, content: readFileSync(copyright) });
    entries.set(`/var/lib/dpkg/status.d/${pkg.name}`, { path: `/var/lib/dpkg/status.d/${pkg.name}`, content: Buffer.from(statusStanza(pkg)) });
  }

  const text = (value: string) => Buffer.from(value, 'utf8');
  const system: LayerEntry[] = [
    // distroless's users: root, nobody and nonroot, none with a shell (there is none).
    { path: '/etc/passwd', content: text(`root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`) },
    { path: '/etc/group', content: text(`root:x:0:\nnobody:x:65534:\nnonroot:x:${NONROOT}:\n`) },
    // Without it glibc asks DNS before /etc/hosts; Kubernetes' /etc/hosts must win, as elsewhere.
    { path: '/etc/nsswitch.conf', content: text('passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n') },
    { path: '/home/nonroot', directory: true, mode: 0o700, uid: NONROOT, gid: NONROOT },
    { path: '/tmp', directory: true, mode: 0o1777 },
  ];
  for (const entry of system) entries.set(entry.path, entry);
  return { entries: [...entries.values()], packages: taken, libraries };
}

// ------------------------------------------------------------------------------------------------
// The release archives.

/** The files of a .tar.gz written by scripts/package/archive.ts (plain ustar, regular files). */
function readArchive(file: string): Map<string, { mode: number; data: Buffer }> {
  const tar = gunzipSync(readFileSync(file));
  const files = new Map<string, { mode: number; data: Buffer }>();
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    if (type === '0') files.set(field(0, 100), { mode: parseInt(field(100, 8).trim(), 8), data: tar.subarray(offset + 512, offset + 512 + size) });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function releaseFiles(releaseDir: string, target: ImagePlatform): { executable: Buffer; license: Buffer } {
  const file = path.join(releaseDir, `kubectl-pullsecret_${target.target}.tar.gz`);
  if (!existsSync(file)) {
    throw new Error(`${path.relative(process.cwd(), file) || file} is missing: run "npm run package" first (or "npm run package -- --target linux/amd64 --target linux/arm64")`);
  }
  const files = readArchive(file);
  const executable = files.get('kubectl-pullsecret');
  const license = files.get('LICENSE');
  if (!executable || !license) throw new Error(`${file} has no kubectl-pullsecret or LICENSE: rebuild it with "npm run package"`);
  return { executable: executable.data, license: license.data };
}

// ------------------------------------------------------------------------------------------------
// The OCI image layout.

const LAYOUT_FILE = 'oci-layout';
const REF_NAME = 'org.opencontainers.image.ref.name';

function blobPath(layoutDir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return path.join(layoutDir, 'blobs', algorithm!, hex!);
}

/**
 * Writes `index` as an OCI image layout: every blob under blobs/sha256/, and index.json naming
 * the image index with its tag, so that tools given the directory alone (`oci:DIR`,
 * `crane push DIR`) find exactly one thing to copy. Written beside and renamed into place, so a
 * reader never sees half a layout.
 */
export function writeLayout(layoutDir: string, index: ImageIndex, tag: string): void {
  const partial = `${layoutDir}.partial.${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(path.join(partial, 'blobs', 'sha256'), { recursive: true });
  const blobs: Blob[] = [index.index, ...index.images.flatMap((image) => [image.manifest, image.config, ...image.layers])];
  for (const item of blobs) writeFileSync(blobPath(partial, item.digest), item.data);
  writeFileSync(path.join(partial, LAYOUT_FILE), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
  const top = { mediaType: index.index.mediaType, digest: index.index.digest, size: index.index.size, annotations: { [REF_NAME]: tag } };
  writeFileSync(path.join(partial, 'index.json'), `${JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.index, manifests: [top] })}\n`);
  rmSync(layoutDir, { recursive: true, force: true });
  mkdirSync(path.dirname(layoutDir), { recursive: true });
  renameSync(partial, layoutDir);
}

/** Reads back the image index a layout written by writeLayout holds, checking every blob's digest. */
export function readLayout(layoutDir: string): ImageIndex {
  const indexFile = path.join(layoutDir, 'index.json');
  if (!existsSync(indexFile)) throw new Error(`${layoutDir} is not an OCI image layout (no index.json): run "npm run image" first`);
  const load = (mediaType: string, digest: string): Blob => {
    const file = blobPath(layoutDir, digest);
    if (!existsSync(file)) throw new Error(`${layoutDir}: blob ${digest} is missing`);
    const data = readFileSync(file);
    if (sha256Digest(data) !== digest) throw new Error(`${layoutDir}: blob ${digest} is damaged (its content has another digest)`);
    return { mediaType, digest, size: data.length, data };
  };
  type Descriptor = { mediaType: string; digest: string; platform?: Platform };
  const outer = JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests?: Descriptor[] };
  const tops = (outer.manifests ?? []).filter((m) => m.mediaType === MEDIA_TYPE.index);
  if (tops.length !== 1) throw new Error(`${layoutDir}: index.json must name exactly one image index, not ${tops.length}`);
  const index = load(MEDIA_TYPE.index, tops[0]!.digest);
  const images = (JSON.parse(index.data.toString('utf8')) as { manifests: Descriptor[] }).manifests.map((entry): Image => {
    const manifest = load(entry.mediaType, entry.digest);
    const parsed = JSON.parse(manifest.data.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
    const config = load(parsed.config.mediaType, parsed.config.digest);
    const diffIds = (JSON.parse(config.data.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    return { platform: entry.platform!, manifest, config, layers: parsed.layers.map((l) => load(l.mediaType, l.digest)), diffIds };
  });
  return { index, images };
}

// ------------------------------------------------------------------------------------------------
// Build and push.

export interface BuildControllerImageOptions {
  /** Where the release archives are (default dist/release). */
  releaseDir?: string;
  /** The OCI image layout to write (default dist/image); replaced. */
  layoutDir?: string;
  /** Seconds since the epoch for every timestamp (default SOURCE_DATE_EPOCH, else 0). */
  epoch?: number;
  /** Only these platforms (e.g. ['linux/amd64'] for a test on this machine's node); default both. */
  platforms?: string[];
  log?: (line: string) => void;
}

export interface PlatformSummary {
  platform: string;
  manifestDigest: string;
  /** Bytes a registry stores and a node pulls: layers, config and manifest. */
  compressedBytes: number;
  /** The layers unpacked. */
  uncompressedBytes: number;
  packages: DebianPackage[];
}

export interface BuiltControllerImage {
  indexDigest: string;
  layoutDir: string;
  /** The tag index.json names (the package version). */
  tag: string;
  index: ImageIndex;
  platforms: PlatformSummary[];
}

function packageJson(): { version: string; license: string; description: string } {
  return JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string; license: string; description: string };
}

export async function buildControllerImage(options: BuildControllerImageOptions = {}): Promise<BuiltControllerImage> {
  const releaseDir = path.resolve(options.releaseDir ?? path.join(repoRoot, 'dist', 'release'));
  const layoutDir = path.resolve(options.layoutDir ?? path.join(repoRoot, 'dist', 'image'));
  const epoch = options.epoch ?? sourceDateEpoch();
  const { version, license, description } = packageJson();
  // Read every input before compressing anything: a missing archive or package fails at once.
  const targets = options.platforms ? PLATFORMS.filter((target) => options.platforms!.includes(platformName(target.platform))) : PLATFORMS;
  if (targets.length === 0) throw new Error(`no image platform among ${options.platforms!.join(', ')}: ${PLATFORMS.map((t) => platformName(t.platform)).join(' and ')} are built`);
  const inputs = targets.map((target) => {
    const release = releaseFiles(releaseDir, target);
    return { target, release, userland: userland(target, release.executable) };
  });
  const labels = {
    'org.opencontainers.image.title': 'kubectl-pullsecret',
    'org.opencontainers.image.description': description,
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.source': SOURCE_URL,
    'org.opencontainers.image.licenses': license,
  };
  const images = await Promise.all(inputs.map(({ target, release, userland: system }) => buildImage({
    platform: target.platform,
    layers: [
      system.entries,
      [
        { path: EXECUTABLE_PATH, mode: 0o755, content: release.executable },
        { path: '/usr/share/doc/kubectl-pullsecret/LICENSE', content: release.license },
      ],
    ],
    config: { user: `${NONROOT}:${NONROOT}`, env: [PATH_ENV], entrypoint: [EXECUTABLE_PATH], workingDir: '/', labels },
  }, { epoch })));
  const index = buildIndex(images);
  writeLayout(layoutDir, index, version);
  const platforms = images.map((image, i): PlatformSummary => ({
    platform: platformName(image.platform),
    manifestDigest: image.manifest.digest,
    compressedBytes: image.manifest.size + image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0),
    uncompressedBytes: inputs[i]!.userland.entries.reduce((sum, e) => sum + ('content' in e ? e.content.length : 0), 0) + inputs[i]!.release.executable.length + inputs[i]!.release.license.length,
    packages: inputs[i]!.userland.packages,
  }));
  return { indexDigest: index.index.digest, layoutDir, tag: version, index, platforms };
}

export interface ImageReference {
  registry: string;
  repository: string;
  tag: string;
}

/** `host[:port]/repository[:tag]` (the registry is always explicit: there is no default one). */
export function parseReference(reference: string, defaultTag: string): ImageReference {
  const slash = reference.indexOf('/');
  if (slash <= 0) throw new Error(`--push wants REGISTRY/REPOSITORY[:TAG] (e.g. 127.0.0.1:5000/kubectl-pullsecret:${defaultTag}), not "${reference}"`);
  const registry = reference.slice(0, slash);
  let repository = reference.slice(slash + 1);
  let tag = defaultTag;
  const colon = repository.lastIndexOf(':');
  if (colon >= 0) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
  }
  registryBaseUrl({ registry });
  checkNames(repository, [tag]);
  return { registry, repository, tag };
}

export interface PushControllerImageOptions extends ImageReference {
  /** The layout to push (default dist/image), read back and checked blob by blob. */
  layoutDir?: string;
  /** A PEM CA bundle to trust besides the system's; implies https. */
  caFile?: string;
  credentials?: Credentials;
}

/** Pushes the index in a layout and both platforms' images to registry/repository:tag. */
export async function pushControllerImage(options: PushControllerImageOptions): Promise<PushResult> {
  const index = readLayout(path.resolve(options.layoutDir ?? path.join(repoRoot, 'dist', 'image')));
  const [result] = await push(
    { registry: options.registry, ...(options.caFile ? { caFile: options.caFile } : {}), ...(options.credentials ? { credentials: options.credentials } : {}) },
    options.repository,
    [options.tag],
    index,
  );
  return result!;
}

// ------------------------------------------------------------------------------------------------
// The command.

const USAGE = 'usage: npm run image -- [--release DIR] [--out DIR] [--push REGISTRY/REPOSITORY[:TAG] [--ca FILE] [--username USER --password-file FILE]] [--no-build]\n';
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function main(argv: string[]): Promise<void> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        release: { type: 'string' },
        out: { type: 'string' },
        push: { type: 'string' },
        ca: { type: 'string' },
        username: { type: 'string' },
        'password-file': { type: 'string' },
        'no-build': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const layoutDir = path.resolve(values.out ?? path.join(repoRoot, 'dist', 'image'));
  let reference: ImageReference | undefined;
  let credentials: Credentials | undefined;
  if (values.push !== undefined) {
    try {
      reference = parseReference(values.push, packageJson().version);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    credentials = credentialsFrom(values.username, values['password-file']);
  } else if (values.ca || values.username || values['password-file'] || values['no-build']) {
    throw new UsageError('--ca, --username, --password-file and --no-build go with --push');
  }

  let digest: string;
  if (values['no-build']) {
    digest = readLayout(layoutDir).index.digest;
  } else {
    const started = performance.now();
    const built = await buildControllerImage({ layoutDir, ...(values.release ? { releaseDir: values.release } : {}) });
    for (const p of built.platforms) {
      const debs = p.packages.map((pkg) => `${pkg.name} ${pkg.version}`).join(', ');
      process.stderr.write(`${p.platform}: ${mb(p.compressedBytes)} compressed (${mb(p.uncompressedBytes)} unpacked), manifest ${p.manifestDigest}; ${debs}\n`);
    }
    process.stderr.write(`wrote the OCI image layout ${path.relative(process.cwd(), built.layoutDir) || '.'} (tag ${built.tag}) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    digest = built.indexDigest;
  }
  if (!reference) {
    process.stdout.write(`${digest}\n`);
    return;
  }
  const started = performance.now();
  const result = await pushControllerImage({ ...reference, layoutDir, ...(values.ca ? { caFile: values.ca } : {}), ...(credentials ? { credentials } : {}) });
  process.stderr.write(`pushed ${result.uploadedBlobs} blob(s) of ${mb(result.uploadedBytes)} (${result.skippedBlobs} already there) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${result.reference}\n`);
}

// Run as a command, not when imported (for buildControllerImage and pushControllerImage).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`image: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}
