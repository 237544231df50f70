// `npm run package`: the release. From the bundle that scripts/build.mjs wrote (npm run package
// builds it first) to one standalone executable per platform, one reproducible archive each, and
// the krew manifest, all in dist/release/:
//
//   kubectl-pullsecret_<os>_<arch>.tar.gz   executable (0755), LICENSE, completion helper
//   pullsecret.yaml                         plugin.yaml rendered with the version and sha256s
//   SHA256SUMS                              for manual downloads (sha256sum -c)
//
// Options: --target OS/ARCH (repeatable; default all five), --out DIR (default dist/release).
// Needs, besides npm and tar: strip, aarch64-linux-gnu-strip (Debian binutils-aarch64-linux-gnu),
// qemu-aarch64 with the arm64 libraries (Debian qemu-user, libc6-arm64-cross, libstdc++6-arm64-cross)
// for the linux/arm64 code cache, osslsigncode, libdeflate-gzip (libdeflate-tools). Runs on linux/amd64, where the blob
// generator (the linux/amd64 Node binary) can run.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mapBounded } from '../../lib/apply';
import { tarGz, type ArchiveEntry } from './archive';
import { PORTABLE_BLOB, blobName, buildExecutable, makeBlob, nodeRunner } from './executables';
import { renderManifest } from './manifest';
import { baseBinaries } from './node-bins';
import { NODE_VERSION, archiveName, selectTargets, targetId, targets, type Target } from './targets';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const completionDir = path.join(repoRoot, 'scripts', 'package', 'completion');

export interface PackageOptions {
  targets: Target[];
  outDir: string;
  /** Blobs and unpacked executables (default dist/package-work). */
  workDir?: string;
  /** The bundle to package (default dist/kubectl-pullsecret, as npm run build writes it). */
  bundle?: string;
  log: (line: string) => void;
}

export interface BuiltArchive {
  target: Target;
  file: string;
  sha256: string;
  bytes: number;
  executableBytes: number;
}

function completionHelper(target: Target): ArchiveEntry {
  // Windows runs neither shebangs nor extensionless files; kubectl finds the .cmd through PATHEXT.
  const name = target.os === 'windows' ? 'kubectl_complete-pullsecret.cmd' : 'kubectl_complete-pullsecret';
  return { name, mode: 0o755, data: readFileSync(path.join(completionDir, name)) };
}

/** The host's own target: the only base binary that can run here and generate the blob. */
function generatorTarget(): Target {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const found = targets.find((t) => t.os === os && t.arch === arch);
  if (!found) throw new Error(`packaging runs on one of the five targets; this is ${process.platform}/${process.arch}`);
  return found;
}

export async function packageRelease(options: PackageOptions): Promise<BuiltArchive[]> {
  const { log, outDir } = options;
  const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const workDir = options.workDir ?? path.join(repoRoot, 'dist', 'package-work');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  // A copy, so that a rebuild of dist/ during packaging cannot mix two bundles in one release;
  // it also lets the tests compare the executables with exactly what went into them.
  const bundle = path.join(workDir, 'kubectl-pullsecret.js');
  copyFileSync(options.bundle ?? path.join(repoRoot, 'dist', 'kubectl-pullsecret'), bundle);
  mkdirSync(outDir, { recursive: true });

  const generator = generatorTarget();
  const bases = await baseBinaries([...new Set([generator, ...options.targets])], log);
  const generatorBinary = bases.get(generator)!;
  // One portable blob, and one with its own code cache for each target whose Node runs here.
  const portableBlob = await makeBlob(generatorBinary, bundle, workDir, PORTABLE_BLOB);
  const blobs = new Map<Target, string>();
  for (const target of options.targets) {
    const runner = nodeRunner(target, bases.get(target)!, generator);
    blobs.set(target, runner ? await makeBlob(generatorBinary, bundle, workDir, blobName(target), runner) : portableBlob);
  }
  const sizes = [...blobs].filter(([, blob]) => blob !== portableBlob).map(([target, blob]) => `${statSync(blob).size} with the code cache for ${target.os}/${target.arch}`);
  log(`SEA blobs from the bundle with Node ${NODE_VERSION}: ${statSync(portableBlob).size} bytes portable${sizes.map((size) => `, ${size}`).join('')}`);

  const mtime = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  const license = readFileSync(path.join(repoRoot, 'LICENSE'));
  // Two at a time: postject (LIEF in WebAssembly) is single-threaded and the machines have two cores.
  const built = await mapBounded(options.targets, 2, async (target) => {
    const started = Date.now();
    const executable = path.join(workDir, targetId(target), target.executable);
    mkdirSync(path.dirname(executable), { recursive: true });
    await buildExecutable(target, bases.get(target)!, blobs.get(target)!, executable);
    const data = readFileSync(executable);
    const archive = await tarGz(
      [{ name: target.executable, mode: 0o755, data }, { name: 'LICENSE', mode: 0o644, data: license }, completionHelper(target)],
      mtime,
    );
    const file = path.join(outDir, archiveName(target));
    writeFileSync(file, archive);
    const sha256 = createHash('sha256').update(archive).digest('hex');
    log(`${archiveName(target)}: ${(archive.length / 1e6).toFixed(1)} MB (executable ${(data.length / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { target, file, sha256, bytes: archive.length, executableBytes: data.length };
  });

  const sums = built.map((a) => `${a.sha256}  ${path.basename(a.file)}\n`).join('');
  writeFileSync(path.join(outDir, 'SHA256SUMS'), sums);
  if (built.length === targets.length) {
    const template = readFileSync(path.join(repoRoot, 'plugin.yaml'), 'utf8');
    const manifest = renderManifest(template, `v${version}`, new Map(built.map((a) => [path.basename(a.file), a.sha256])));
    writeFileSync(path.join(outDir, 'pullsecret.yaml'), manifest);
    log(`pullsecret.yaml: krew manifest for v${version}`);
  } else {
    // A manifest naming archives that were not built would carry stale checksums.
    rmSync(path.join(outDir, 'pullsecret.yaml'), { force: true });
    log('pullsecret.yaml: not written (only some targets were built)');
  }
  return built;
}

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: { target: { type: 'string', multiple: true, default: [] }, out: { type: 'string' } },
  });
  const started = Date.now();
  const outDir = path.resolve(values.out ?? path.join(repoRoot, 'dist', 'release'));
  await packageRelease({ targets: selectTargets(values.target ?? []), outDir, log: (line) => console.log(line) });
  console.log(`packaged into ${path.relative(process.cwd(), outDir) || '.'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli().catch((error: unknown) => {
    console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
