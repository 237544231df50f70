// OCI images built in memory, without a container daemon: layers (gzipped tars), the image
// config and the image manifest, and an image index over several platforms. Everything is
// reproducible, so the same description gives the same digests on every build: entries sorted by
// path with their parent directories, mtimes and `created` from SOURCE_DATE_EPOCH (else 0), owner
// 0:0 unless given, JSON with a fixed key order, and gzip at a fixed level with no timestamp.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import { tar, type ArchiveEntry } from '../package/archive';

export const MEDIA_TYPE = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface Platform {
  os: string;
  architecture: string;
  /** e.g. 'v8' for arm64, 'v7' for arm; left out of the JSON when not given. */
  variant?: string;
}

interface EntryCommon {
  /** Absolute or relative; written relative to the root, as layers are (`bin/sh`). */
  path: string;
  /** Permission bits; 0644 for files, 0755 for directories, 0777 for symlinks unless given. */
  mode?: number;
  uid?: number;
  gid?: number;
}
export interface FileEntry extends EntryCommon { content: Buffer }
export interface SymlinkEntry extends EntryCommon { symlink: string }
export interface DirectoryEntry extends EntryCommon { directory: true }
export type LayerEntry = FileEntry | SymlinkEntry | DirectoryEntry;

/** The parts of the OCI image config that a container runtime acts on. */
export interface ContainerConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** `NAME=value` each. */
  env?: string[];
  /** `uid[:gid]` or a name from the image's /etc/passwd. */
  user?: string;
  workingDir?: string;
  labels?: Record<string, string>;
}

export interface ImageSpec {
  platform: Platform;
  /** Bottom layer first. */
  layers: LayerEntry[][];
  config: ContainerConfig;
}

/** Content-addressed bytes and the descriptor fields that name them. */
export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface Image {
  platform: Platform;
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  /** sha256 of each uncompressed layer tar, as in config.rootfs.diff_ids. */
  diffIds: string[];
}

export interface ImageIndex {
  index: Blob;
  images: Image[];
}

export interface BuildOptions {
  /** Seconds since the epoch for every mtime and `created`; SOURCE_DATE_EPOCH, else 0. */
  epoch?: number;
}

/** Level 9 with zlib's defaults spelled out: the compressed bytes (the layer digest) depend on them. */
const GZIP_OPTIONS = { level: 9, memLevel: 8, windowBits: 15, strategy: constants.Z_DEFAULT_STRATEGY };
// Asynchronous so that the layers of several platforms compress in parallel on the thread pool.
const gzipAsync = promisify(gzip);

/** The epoch that reproducible builds agree on (https://reproducible-builds.org/specs/source-date-epoch/). */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return 0;
  if (!/^\d+$/.test(text)) throw new Error(`SOURCE_DATE_EPOCH must be a whole number of seconds, not "${text}"`);
  return Number(text);
}

export function sha256Digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256Digest(data), size: data.length, data };
}

function jsonBlob(mediaType: string, value: unknown): Blob {
  return blob(mediaType, Buffer.from(JSON.stringify(value), 'utf8'));
}

/** `bin/sh` for `/bin/sh`, `./bin/sh` or `bin//sh/`; no `..`, no empty path. */
function normalizePath(raw: string): string {
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0) throw new Error(`layer entry "${raw}": the root itself is not an entry`);
  if (parts.includes('..')) throw new Error(`layer entry "${raw}": ".." is not allowed`);
  return parts.join('/');
}

/**
 * The tar entries of one layer: sorted by path (bytewise, so a directory comes before what is
 * in it), with every missing parent directory added as 0755 root:root, because a tar that names
 * `bin/sh` without `bin/` leaves the extracting runtime to guess the directory's mode and owner.
 */
export function layerTarEntries(entries: readonly LayerEntry[]): ArchiveEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    const key = normalizePath(entry.path);
    if (byPath.has(key)) throw new Error(`layer entry "${key}" is given twice`);
    byPath.set(key, entry);
  }
  for (const key of [...byPath.keys()]) {
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (existing && !('directory' in existing)) throw new Error(`layer entry "${key}" is inside "${parent}", which is not a directory`);
      if (!existing) byPath.set(parent, { path: parent, directory: true });
    }
  }
  const sorted = [...byPath.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return sorted.map(([key, entry]): ArchiveEntry => {
    const owner = { uid: entry.uid ?? 0, gid: entry.gid ?? 0 };
    if ('content' in entry) return { name: key, mode: entry.mode ?? 0o644, data: entry.content, ...owner };
    if ('symlink' in entry) return { name: key, mode: entry.mode ?? 0o777, data: Buffer.alloc(0), type: 'symlink', linkname: entry.symlink, ...owner };
    return { name: `${key}/`, mode: entry.mode ?? 0o755, data: Buffer.alloc(0), type: 'directory', ...owner };
  });
}

/** The uncompressed tar of one layer (whose sha256 is its diff_id). */
export function layerTar(entries: readonly LayerEntry[], epoch: number): Buffer {
  return tar(layerTarEntries(entries), epoch);
}

/**
 * gzip with a fixed header: no mtime or name (zlib writes none), and the OS byte set to 3 (Unix)
 * on every host, because zlib writes the OS it was built for there.
 */
export async function deterministicGzip(data: Buffer): Promise<Buffer> {
  const gz = await gzipAsync(data, GZIP_OPTIONS);
  gz[9] = 3;
  return gz;
}

function rfc3339(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** The OCI image config's `config` object: only the fields given, in the spec's order. */
function containerConfigJson(config: ContainerConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  if (config.user !== undefined) json.User = config.user;
  if (config.env?.length) json.Env = config.env;
  if (config.entrypoint?.length) json.Entrypoint = config.entrypoint;
  if (config.cmd?.length) json.Cmd = config.cmd;
  if (config.workingDir !== undefined) json.WorkingDir = config.workingDir;
  if (config.labels && Object.keys(config.labels).length) {
    json.Labels = Object.fromEntries(Object.entries(config.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return json;
}

function platformJson(platform: Platform): Platform {
  return { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) };
}

function descriptor(target: Blob): { mediaType: string; digest: string; size: number } {
  return { mediaType: target.mediaType, digest: target.digest, size: target.size };
}

/** One platform's image: its layers, config and manifest, all as blobs ready to push. */
export async function buildImage(spec: ImageSpec, options: BuildOptions = {}): Promise<Image> {
  const epoch = options.epoch ?? sourceDateEpoch();
  const created = rfc3339(epoch);
  const tars = spec.layers.map((entries) => layerTar(entries, epoch));
  const layers = await Promise.all(tars.map(async (data) => blob(MEDIA_TYPE.layer, await deterministicGzip(data))));
  const diffIds = tars.map(sha256Digest);
  const config = jsonBlob(MEDIA_TYPE.config, {
    created,
    ...platformJson(spec.platform),
    config: containerConfigJson(spec.config),
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map(() => ({ created, created_by: 'kubectl-pullsecret scripts/images/oci.ts' })),
  });
  const manifest = jsonBlob(MEDIA_TYPE.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: descriptor(config),
    layers: layers.map(descriptor),
  });
  return { platform: spec.platform, manifest, config, layers, diffIds };
}

/** An image index over images of different platforms (one tag for linux/amd64 and linux/arm64). */
export function buildIndex(images: readonly Image[]): ImageIndex {
  if (images.length === 0) throw new Error('an image index needs at least one image');
  const seen = new Set<string>();
  for (const image of images) {
    const key = JSON.stringify(platformJson(image.platform));
    if (seen.has(key)) throw new Error(`two images in one index for platform ${platformName(image.platform)}`);
    seen.add(key);
  }
  const index = jsonBlob(MEDIA_TYPE.index, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.index,
    manifests: images.map((image) => ({ ...descriptor(image.manifest), platform: platformJson(image.platform) })),
  });
  return { index, images: [...images] };
}

/** `linux/arm64/v8`. */
export function platformName(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** Bytes of every distinct blob (what a registry stores for it). */
export function totalSize(target: Image | ImageIndex): number {
  const blobs = new Map<string, number>();
  const images = 'index' in target ? target.images : [target];
  if ('index' in target) blobs.set(target.index.digest, target.index.size);
  for (const image of images) {
    for (const b of [image.manifest, image.config, ...image.layers]) blobs.set(b.digest, b.size);
  }
  return [...blobs.values()].reduce((sum, size) => sum + size, 0);
}
