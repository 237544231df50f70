// What `npm run package` wrote, checked without running it: archive layout and reproducibility,
// the krew manifest's checksums, the blob inside each executable, the Linux and Windows headers,
// and for the darwin executables (which cannot run here) the NODE_SEA segment and the ad-hoc
// signature, page hash by page hash.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadYaml } from '@kubernetes/client-node';
import { exec } from '../../scripts/package/exec';
import { MACHO_SEGMENT, PORTABLE_BLOB, SEA_FUSE, SIGNING_IDENTIFIER, blobName } from '../../scripts/package/executables';
import { parseMachO, removeSignature, signAdHoc, verifyCodeSignature } from '../../scripts/package/macho';
import { packageRelease } from '../../scripts/package/main';
import { baseBinaries } from '../../scripts/package/node-bins';
import { renderManifest } from '../../scripts/package/manifest';
import { archiveName, selectTargets, targets } from '../../scripts/package/targets';
import { archivePath, readTarGz, releaseDir, repoRoot, tempDir, workDir } from './helpers';

const MAX_ARCHIVE_BYTES = 40_000_000;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
/** The blob each target's executable carries: its own (with its code cache) where its Node runs here. */
const blobOf = (target: (typeof targets)[number]) =>
  readFileSync(path.join(workDir, `${target.os === 'linux' ? blobName(target) : PORTABLE_BLOB}.blob`));

function executableOf(target: (typeof targets)[number]): Buffer {
  const entry = readTarGz(archivePath(target)).find((e) => e.name === target.executable);
  assert.ok(entry, `${archiveName(target)} has no ${target.executable}`);
  return entry.data;
}

describe('release archives', () => {
  for (const target of targets) {
    test(`${archiveName(target)}: executable 0755, LICENSE, completion helper; fixed owner and time; under 40 MB`, () => {
      const file = archivePath(target);
      const entries = readTarGz(file);
      const helper = target.os === 'windows' ? 'kubectl_complete-pullsecret.cmd' : 'kubectl_complete-pullsecret';
      assert.deepEqual(
        entries.map((e) => [e.name, e.mode.toString(8), e.type]),
        [[target.executable, '755', '0'], ['LICENSE', '644', '0'], [helper, '755', '0']],
      );
      for (const entry of entries) {
        assert.deepEqual([entry.uid, entry.gid, entry.uname, entry.mtime], [0, 0, '', Number(process.env.SOURCE_DATE_EPOCH ?? 0)]);
      }
      assert.ok(entries[1]!.data.equals(readFileSync(path.join(repoRoot, 'LICENSE'))));
      assert.ok(entries[2]!.data.equals(readFileSync(path.join(repoRoot, 'scripts', 'package', 'completion', helper))));
      const gz = readFileSync(file);
      assert.equal(gz.readUInt32LE(4), 0, 'gzip header carries no timestamp');
      assert.equal(gz[3]! & 0x08, 0, 'gzip header carries no file name');
      assert.ok(gz.length < MAX_ARCHIVE_BYTES, `${archiveName(target)} is ${gz.length} bytes`);
    });
  }

  test('SHA256SUMS and the krew manifest name every archive with its sha256', () => {
    const sums = new Map(
      readFileSync(path.join(releaseDir, 'SHA256SUMS'), 'utf8').trim().split('\n').map((line) => line.split(/\s+/).reverse() as [string, string]),
    );
    const manifest = loadYaml<{
      metadata: { name: string };
      spec: { version: string; platforms: { selector: { matchLabels: Record<string, string> }; uri: string; sha256: string; bin: string }[] };
    }>(readFileSync(path.join(releaseDir, 'pullsecret.yaml'), 'utf8'));
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(manifest.metadata.name, 'pullsecret');
    assert.equal(manifest.spec.version, `v${version}`);
    assert.equal(manifest.spec.platforms.length, targets.length);
    for (const target of targets) {
      const actual = sha256(readFileSync(archivePath(target)));
      assert.equal(sums.get(archiveName(target)), actual);
      const platform = manifest.spec.platforms.find((p) => p.selector.matchLabels.os === target.os && p.selector.matchLabels.arch === target.arch);
      assert.ok(platform, `no platform for ${target.os}/${target.arch}`);
      assert.equal(platform.sha256, actual);
      assert.equal(platform.bin, target.executable);
      assert.ok(platform.uri.endsWith(`/v${version}/${archiveName(target)}`), platform.uri);
    }
  });

  test('the manifest renderer refuses archives it was not given and unknown placeholders', () => {
    const sums = new Map([['a.tar.gz', 'f'.repeat(64)]]);
    assert.throws(() => renderManifest('sha256: {{sha256 b.tar.gz}}', 'v1.0.0', sums), /names b\.tar\.gz, which was not built/);
    assert.throws(() => renderManifest('x: {{releaseDate}}', 'v1.0.0', sums), /unknown placeholder \{\{releaseDate\}\}/);
  });

  test('two builds give the same archives (linux/amd64, linux/arm64 and darwin/arm64 rebuilt from scratch)', async () => {
    const out = tempDir('repro');
    const work = tempDir('repro-work');
    try {
      const rebuilt = await packageRelease({
        targets: selectTargets(['linux/amd64', 'linux/arm64', 'darwin/arm64']),
        outDir: out.dir,
        workDir: work.dir,
        bundle: path.join(workDir, 'kubectl-pullsecret.js'),
        log: () => undefined,
      });
      for (const archive of rebuilt) {
        assert.equal(archive.sha256, sha256(readFileSync(archivePath(archive.target))), `${archiveName(archive.target)} differs`);
      }
    } finally {
      out.cleanup();
      work.cleanup();
    }
  });
});

describe('executables', () => {
  test('every executable carries the bundle as its SEA blob, with the fuse flipped', () => {
    const bundle = readFileSync(path.join(workDir, 'kubectl-pullsecret.js'));
    for (const target of targets) {
      const executable = executableOf(target);
      const blob = blobOf(target);
      assert.ok(executable.includes(blob), `${target.os}/${target.arch} does not contain its blob`);
      // The bundle's source sits in the blob verbatim (minus the shebang line Node skips).
      assert.ok(blob.includes(bundle.subarray(bundle.indexOf('\n') + 1, bundle.indexOf('\n') + 4097)));
      assert.ok(executable.includes(`${SEA_FUSE}:1`), `${target.os}/${target.arch}: fuse not flipped`);
      assert.ok(!executable.includes(`${SEA_FUSE}:0`));
    }
  });

  test('Linux executables are stripped ELF images of their architecture', () => {
    for (const [arch, machine] of [['amd64', 0x3e], ['arm64', 0xb7]] as const) {
      const elf = executableOf(selectTargets([`linux/${arch}`])[0]!);
      assert.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF');
      assert.equal(elf.readUInt16LE(18), machine);
      assert.ok(!elf.includes('.symtab\0'), `linux/${arch} still has a symbol table`);
    }
  });

  test('the Windows executable is an x64 PE without the (now invalid) Authenticode signature', () => {
    const pe = executableOf(selectTargets(['windows/amd64'])[0]!);
    const header = pe.readUInt32LE(0x3c);
    assert.equal(pe.subarray(header, header + 4).toString('latin1'), 'PE\0\0');
    assert.equal(pe.readUInt16LE(header + 4), 0x8664);
    // PE32+ optional header: the data directories start 112 bytes in; entry 4 is the certificate table.
    const certificateTable = header + 24 + 112 + 4 * 8;
    assert.deepEqual([pe.readUInt32LE(certificateTable), pe.readUInt32LE(certificateTable + 4)], [0, 0]);
  });

  for (const arch of ['amd64', 'arm64'] as const) {
    test(`darwin/${arch}: the blob in segment ${MACHO_SEGMENT}, and an ad-hoc signature whose CodeDirectory hashes every page`, async () => {
      const target = selectTargets([`darwin/${arch}`])[0]!;
      const image = executableOf(target);
      const machO = parseMachO(image);
      assert.equal(machO.cpuType, arch === 'arm64' ? 0x0100000c : 0x01000007);
      const segment = machO.segments.find((s) => s.name === MACHO_SEGMENT);
      assert.ok(segment, 'no NODE_SEA segment');
      const section = segment.sections.find((s) => s.name === '__NODE_SEA_BLOB');
      assert.ok(section, 'no __NODE_SEA_BLOB section');
      assert.ok(image.subarray(section.offset, section.offset + section.size).equals(blobOf(target)));

      const { directories } = verifyCodeSignature(image);
      assert.equal(directories.length, 1);
      const [directory] = directories;
      assert.equal(directory!.identifier, SIGNING_IDENTIFIER);
      assert.equal(directory!.flags & 0x2, 0x2, 'ad hoc');
      assert.equal(directory!.flags & 0x10000, 0, 'no hardened runtime: V8 needs no JIT entitlement');
      assert.deepEqual(directory!.badPages, []);
      const text = machO.segments.find((s) => s.name === '__TEXT')!;
      assert.deepEqual([directory!.execSegBase, directory!.execSegLimit, directory!.execSegFlags], [text.fileoff, text.filesize, 1]);
      // A second, independent reader of the load commands agrees.
      const dir = tempDir('macho');
      try {
        const file = path.join(dir.dir, 'kubectl-pullsecret');
        writeFileSync(file, image);
        const headers = (await exec('llvm-objdump', ['--macho', '--private-headers', file])).stdout.toString('utf8');
        assert.match(headers, /segname NODE_SEA\b/);
        assert.match(headers, new RegExp(`cmd LC_CODE_SIGNATURE\\s+cmdsize 16\\s+dataoff ${machO.codeSignature!.dataoff}\\b`));
      } finally {
        dir.cleanup();
      }
    });
  }
});

describe('the ad-hoc signer', () => {
  test("re-signs a Go-linker-signed darwin/arm64 binary byte for byte (esbuild's, from the registry)", async () => {
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version: string; integrity: string }>;
    };
    const pinned = lock.packages['node_modules/@esbuild/darwin-arm64'];
    assert.ok(pinned, 'package-lock.json pins @esbuild/darwin-arm64');
    const dir = tempDir('esbuild-darwin');
    try {
      const packed = await exec('npm', ['pack', `@esbuild/darwin-arm64@${pinned.version}`, '--pack-destination', dir.dir, '--json', '--loglevel=error']);
      const [{ filename }] = JSON.parse(packed.stdout.toString('utf8')) as { filename: string }[];
      const tarball = readFileSync(path.join(dir.dir, filename));
      assert.equal(`sha512-${createHash('sha512').update(tarball).digest('base64')}`, pinned.integrity);
      await exec('tar', ['-xzf', path.join(dir.dir, filename), '-C', dir.dir, 'package/bin/esbuild']);
      const original = readFileSync(path.join(dir.dir, 'package', 'bin', 'esbuild'));
      const [directory] = verifyCodeSignature(original).directories;
      assert.equal(directory!.flags, 0x20002, 'linker-signed ad hoc, as Go writes it');
      const resigned = signAdHoc(removeSignature(original), directory!.identifier);
      assert.ok(resigned.equals(original), 'the re-signed binary differs from the original');
    } finally {
      dir.cleanup();
    }
  });

  test("reads Node's own Developer ID signature (every page matches) and notices a changed page", async () => {
    const target = selectTargets(['darwin/arm64'])[0]!;
    const base = readFileSync((await baseBinaries([target], () => undefined)).get(target)!);
    const directories = verifyCodeSignature(base).directories;
    assert.equal(directories[0]!.identifier, 'node');
    assert.deepEqual(directories.map((d) => d.badPages), [[]]);
    base[0x5000] = base[0x5000]! ^ 0xff;
    assert.deepEqual(verifyCodeSignature(base).directories[0]!.badPages, [5]);
  });
});
