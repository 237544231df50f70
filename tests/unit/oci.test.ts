// The OCI image builder of scripts/images: reproducible digests, the JSON shapes and media types
// that containerd and distribution expect, and layer tars that read back as what was described.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { tar } from '../../scripts/package/archive';
import { staticElfArchitecture } from '../../scripts/images/elf';
import {
  MEDIA_TYPE,
  buildImage,
  buildIndex,
  deterministicGzip,
  layerTar,
  sourceDateEpoch,
  totalSize,
  type ImageSpec,
  type LayerEntry,
} from '../../scripts/images/oci';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface TarRecord {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname: string;
  data: Buffer;
}

/** A ustar reader just big enough for what archive.ts writes, checking each header's checksum. */
function readTar(archive: Buffer): TarRecord[] {
  const records: TarRecord[] = [];
  const text = (block: Buffer, start: number, length: number) => block.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
  const octal = (block: Buffer, start: number, length: number) => parseInt(text(block, start, length).trim() || '0', 8);
  let offset = 0;
  for (;;) {
    const block = archive.subarray(offset, offset + 512);
    assert.equal(block.length, 512, 'the archive ends on a block boundary');
    if (block.every((byte) => byte === 0)) {
      assert.ok(archive.subarray(offset + 512, offset + 1024).every((byte) => byte === 0), 'two zero blocks end the archive');
      assert.equal(archive.length, offset + 1024);
      return records;
    }
    const summed = Buffer.from(block);
    summed.write('        ', 148, 'ascii');
    assert.equal(octal(block, 148, 8), summed.reduce((sum, byte) => sum + byte, 0), 'header checksum');
    assert.equal(text(block, 257, 6), 'ustar');
    const size = octal(block, 124, 12);
    records.push({
      name: text(block, 0, 100),
      mode: octal(block, 100, 8),
      uid: octal(block, 108, 8),
      gid: octal(block, 116, 8),
      size,
      mtime: octal(block, 136, 12),
      type: text(block, 156, 1),
      linkname: text(block, 157, 100),
      data: Buffer.from(archive.subarray(offset + 512, offset + 512 + size)),
    });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
}

const busyboxLike: LayerEntry[] = [
  { path: '/tmp', mode: 0o1777, directory: true },
  { path: '/bin/sh', symlink: 'busybox' },
  { path: '/bin/busybox', mode: 0o755, content: Buffer.from('#!not really busybox\n') },
  { path: 'etc/motd', content: Buffer.from('hello'), uid: 1000, gid: 1001 },
];

const spec: ImageSpec = {
  platform: { os: 'linux', architecture: 'amd64' },
  layers: [busyboxLike, [{ path: '/data/big', content: Buffer.alloc(3000, 'x') }]],
  config: {
    cmd: ['sleep', '3600'],
    entrypoint: ['/bin/sh', '-c'],
    env: ['PATH=/bin'],
    user: '65535:65535',
    workingDir: '/tmp',
    labels: { 'z.last': '1', 'a.first': '2' },
  },
};

describe('layer tars', () => {
  test('entries are sorted, parents added, and every field reads back as described', () => {
    const records = readTar(layerTar(busyboxLike, 1_700_000_000));
    assert.deepEqual(records.map((r) => [r.name, r.type, r.mode.toString(8), r.uid, r.gid, r.linkname]), [
      ['bin/', '5', '755', 0, 0, ''],
      ['bin/busybox', '0', '755', 0, 0, ''],
      ['bin/sh', '2', '777', 0, 0, 'busybox'],
      ['etc/', '5', '755', 0, 0, ''],
      ['etc/motd', '0', '644', 1000, 1001, ''],
      ['tmp/', '5', '1777', 0, 0, ''],
    ]);
    assert.ok(records.every((r) => r.mtime === 1_700_000_000));
    assert.equal(records[1]!.data.toString(), '#!not really busybox\n');
    assert.equal(records[4]!.data.toString(), 'hello');
    assert.ok(records.filter((r) => r.type !== '0').every((r) => r.size === 0));
  });

  test('a path is named once, without "..", and never inside a file', () => {
    assert.throws(() => layerTar([{ path: '/a', content: Buffer.alloc(0) }, { path: 'a/', directory: true }], 0), /"a" is given twice/);
    assert.throws(() => layerTar([{ path: '/a/../etc/passwd', content: Buffer.alloc(0) }], 0), /"\.\." is not allowed/);
    assert.throws(() => layerTar([{ path: '/', directory: true }], 0), /the root itself/);
    assert.throws(() => layerTar([{ path: '/a', content: Buffer.alloc(0) }, { path: '/a/b', content: Buffer.alloc(0) }], 0), /inside "a", which is not a directory/);
  });

  test('archive.ts still writes a plain file byte for byte as the release archives have it', () => {
    // The digest from before directories and symlinks were added to archive.ts.
    const archive = tar([{ name: 'LICENSE', mode: 0o644, data: Buffer.from('text\n') }, { name: 'bin', mode: 0o755, data: Buffer.alloc(600, 1) }], 1234);
    assert.equal(sha256(archive), 'sha256:04a1ecd976064e7faa16c99a00e636e8dc53bd92c2f5726dc94930bff327e628');
  });
});

describe('gzip', () => {
  test('round-trips, with no mtime and the same header on every host', async () => {
    const data = layerTar(busyboxLike, 0);
    const gz = await deterministicGzip(data);
    assert.deepEqual(gunzipSync(gz), data);
    assert.deepEqual([...gz.subarray(0, 4)], [0x1f, 0x8b, 8, 0], 'gzip, deflate, no flags (no name, no comment)');
    assert.equal(gz.readUInt32LE(4), 0, 'no mtime');
    assert.equal(gz[9], 3, 'OS: Unix');
    assert.deepEqual(await deterministicGzip(data), gz);
  });
});

describe('images', () => {
  test('two builds give the same digests; another epoch gives others', async () => {
    const [a, b, later] = await Promise.all([buildImage(spec, { epoch: 0 }), buildImage(spec, { epoch: 0 }), buildImage(spec, { epoch: 86400 })]);
    assert.equal(a.manifest.digest, b.manifest.digest);
    assert.deepEqual(a.manifest.data, b.manifest.data);
    assert.deepEqual(a.layers.map((l) => l.digest), b.layers.map((l) => l.digest));
    assert.notEqual(later.manifest.digest, a.manifest.digest);
    assert.notEqual(later.diffIds[0], a.diffIds[0]);
  });

  test('the epoch comes from SOURCE_DATE_EPOCH, else 0', () => {
    assert.equal(sourceDateEpoch({}), 0);
    assert.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: '' }), 0);
    assert.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' }), 1_700_000_000);
    assert.throws(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' }), /whole number/);
  });

  test('manifest and config have the OCI shapes, and every descriptor names its blob', async () => {
    const image = await buildImage(spec, { epoch: 1_700_000_000 });
    for (const blob of [image.manifest, image.config, ...image.layers]) {
      assert.equal(blob.digest, sha256(blob.data));
      assert.equal(blob.size, blob.data.length);
    }
    const manifest = JSON.parse(image.manifest.data.toString());
    assert.deepEqual(manifest, {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.manifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: image.config.digest, size: image.config.size },
      layers: image.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    });
    assert.equal(MEDIA_TYPE.manifest, 'application/vnd.oci.image.manifest.v1+json');

    const config = JSON.parse(image.config.data.toString());
    const diffIds = image.layers.map((l) => sha256(gunzipSync(l.data)));
    assert.deepEqual(image.diffIds, diffIds);
    assert.deepEqual(config, {
      created: '2023-11-14T22:13:20Z',
      architecture: 'amd64',
      os: 'linux',
      config: {
        User: '65535:65535',
        Env: ['PATH=/bin'],
        Entrypoint: ['/bin/sh', '-c'],
        Cmd: ['sleep', '3600'],
        WorkingDir: '/tmp',
        Labels: { 'a.first': '2', 'z.last': '1' },
      },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [
        { created: '2023-11-14T22:13:20Z', created_by: 'kubectl-pullsecret scripts/images/oci.ts' },
        { created: '2023-11-14T22:13:20Z', created_by: 'kubectl-pullsecret scripts/images/oci.ts' },
      ],
    });
    assert.deepEqual(readTar(gunzipSync(image.layers[1]!.data)).map((r) => [r.name, r.size]), [['data/', 0], ['data/big', 3000]]);
  });

  test('an image with only an entrypoint has a config with only that', async () => {
    const image = await buildImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [[{ path: '/pause', content: Buffer.from('x') }]], config: { entrypoint: ['/pause'] } }, { epoch: 0 });
    const config = JSON.parse(image.config.data.toString());
    assert.equal(config.created, '1970-01-01T00:00:00Z');
    assert.deepEqual([config.architecture, config.os, config.variant], ['arm64', 'linux', 'v8']);
    assert.deepEqual(config.config, { Entrypoint: ['/pause'] });
  });
});

describe('image index', () => {
  test('names each platform\'s manifest with its platform', async () => {
    const amd64 = await buildImage(spec, { epoch: 0 });
    const arm64 = await buildImage({ ...spec, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, { epoch: 0 });
    const { index, images } = buildIndex([amd64, arm64]);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(index.digest, sha256(index.data));
    assert.deepEqual(JSON.parse(index.data.toString()), {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: MEDIA_TYPE.manifest, digest: amd64.manifest.digest, size: amd64.manifest.size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: MEDIA_TYPE.manifest, digest: arm64.manifest.digest, size: arm64.manifest.size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    });
    assert.deepEqual(images, [amd64, arm64]);
    assert.equal(buildIndex([amd64, arm64]).index.digest, index.digest);
    // The layers are the same bytes in both images: counted once, as a registry stores them.
    assert.equal(totalSize({ index, images }), index.size + amd64.manifest.size + arm64.manifest.size + amd64.config.size + arm64.config.size + amd64.layers.reduce((s, l) => s + l.size, 0));
    assert.throws(() => buildIndex([amd64, amd64]), /two images in one index for platform linux\/amd64/);
    assert.throws(() => buildIndex([]), /at least one image/);
  });
});

describe('ELF check', () => {
  /** A minimal 64-bit little-endian ELF header with program headers of the given types. */
  function elf(machine: number, programTypes: number[]): Buffer {
    const data = Buffer.alloc(64 + 56 * programTypes.length);
    data.writeUInt32BE(0x7f454c46, 0);
    data[4] = 2; // 64-bit
    data[5] = 1; // little-endian
    data.writeUInt16LE(machine, 18);
    data.writeBigUInt64LE(64n, 32);
    data.writeUInt16LE(56, 54);
    data.writeUInt16LE(programTypes.length, 56);
    programTypes.forEach((type, i) => data.writeUInt32LE(type, 64 + 56 * i));
    return data;
  }

  test('gives the architecture of a static executable and refuses a dynamic one', () => {
    assert.equal(staticElfArchitecture(elf(62, [1, 1]), 'x'), 'amd64');
    assert.equal(staticElfArchitecture(elf(183, [1]), 'x'), 'arm64');
    assert.throws(() => staticElfArchitecture(elf(62, [6, 3, 1]), '/bin/busybox'), /\/bin\/busybox is dynamically linked/);
    assert.throws(() => staticElfArchitecture(elf(40, []), 'x'), /ELF machine 40/);
    assert.throws(() => staticElfArchitecture(Buffer.from('#!/bin/sh\n'.padEnd(64)), 'x'), /not an ELF executable/);
  });
});
