// The images the local test node runs, built here and pushed to a local registry (no daemon, no
// internet): `pause`, the pod sandbox, from pause.c; `busybox`, Debian's static busybox with a
// few applet links, whose default command keeps a container Running.
//
//   node --import tsx scripts/images/test-images.ts --registry 127.0.0.1:PORT [--ca FILE] \
//     [--username USER --password-file FILE] --image pause|busybox --tag TAG [--tag TAG…] \
//     [--repository NAME] [-v]
//
// Prints one `registry/repository:tag@sha256:…` line per tag. The password comes from
// --password-file or KPS_REGISTRY_PASSWORD (and the user from --username or
// KPS_REGISTRY_USERNAME), never from the command line. Without --ca, a loopback registry is
// spoken to over plain http; with it, or for any other host, over https.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cacheRoot } from '../package/targets';
import { staticElfArchitecture } from './elf';
import { buildImage, platformName, type Image } from './oci';
import { UsageError, checkNames, credentialsFrom, push, registryBaseUrl } from './push';

const here = path.dirname(fileURLToPath(import.meta.url));
const PAUSE_SOURCE = path.join(here, 'pause.c');
const GCC_FLAGS = ['-static', '-O2', '-s'];
const BUSYBOX = '/bin/busybox';
/** The applets a test container calls by name; each is a link to busybox, which dispatches on argv[0]. */
const BUSYBOX_APPLETS = ['sh', 'sleep', 'echo', 'cat', 'ls'];
/** containerd's default PATH, set in the image so that `sleep` in a command is found. */
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const TEST_IMAGES = ['pause', 'busybox'] as const;
export type TestImageName = (typeof TEST_IMAGES)[number];

function run(command: string, args: string[], what: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${what} needs ${command} (Debian: apt-get install gcc libc6-dev)`);
    throw new Error(`${what}: ${command} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(0, 3).join(' | ')}`);
  }
}

/**
 * The static pause binary, compiled once per source, flags and compiler, then taken from the
 * project's cache (`gcc -static` takes about a second, the cached copy nothing).
 */
export function pauseBinary(): Buffer {
  const source = readFileSync(PAUSE_SOURCE);
  const compiler = run('gcc', ['-dumpfullversion', '-dumpmachine'], 'building pause').trim().replace(/\s+/g, ' ');
  const key = createHash('sha256').update(source).update(`\0${GCC_FLAGS.join(' ')}\0${compiler}`).digest('hex').slice(0, 16);
  const cached = path.join(cacheRoot(), 'images', `pause-${key}`);
  if (existsSync(cached)) return readFileSync(cached);
  mkdirSync(path.dirname(cached), { recursive: true });
  const partial = `${cached}.partial.${process.pid}`;
  run('gcc', [...GCC_FLAGS, '-o', partial, PAUSE_SOURCE], 'building pause');
  renameSync(partial, cached); // atomic: a concurrent build sees the whole binary or none
  return readFileSync(cached);
}

function busyboxBinary(): Buffer {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: the busybox image needs Debian's static busybox (apt-get install busybox-static)`);
  return readFileSync(BUSYBOX);
}

export async function buildTestImage(name: TestImageName): Promise<Image> {
  if (name === 'pause') {
    const binary = pauseBinary();
    const architecture = staticElfArchitecture(binary, 'the compiled pause binary');
    return buildImage({
      platform: { os: 'linux', architecture },
      layers: [[{ path: '/pause', mode: 0o755, content: binary }]],
      // 65535 (Kubernetes' own pause image): the sandbox needs no privileges to do nothing.
      config: { entrypoint: ['/pause'], user: '65535:65535' },
    });
  }
  const binary = busyboxBinary();
  const architecture = staticElfArchitecture(binary, `${BUSYBOX} (from the busybox-static package, not busybox)`);
  return buildImage({
    platform: { os: 'linux', architecture },
    layers: [[
      { path: '/bin/busybox', mode: 0o755, content: binary },
      ...BUSYBOX_APPLETS.map((applet) => ({ path: `/bin/${applet}`, symlink: 'busybox' })),
      { path: '/tmp', mode: 0o1777, directory: true as const },
    ]],
    config: { env: [PATH_ENV], cmd: ['sleep', '3600'] },
  });
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        registry: { type: 'string' },
        ca: { type: 'string' },
        username: { type: 'string' },
        'password-file': { type: 'string' },
        image: { type: 'string' },
        tag: { type: 'string', multiple: true },
        repository: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
  if (parsed.help) {
    process.stdout.write('usage: test-images.ts --registry HOST:PORT [--ca FILE] [--username USER --password-file FILE] --image pause|busybox --tag TAG [--tag TAG...] [--repository NAME] [-v]\n');
    return;
  }
  if (!parsed.registry) throw new UsageError('--registry HOST:PORT is required');
  const image = parsed.image;
  if (!image || !(TEST_IMAGES as readonly string[]).includes(image)) throw new UsageError(`--image must be one of ${TEST_IMAGES.join(', ')}`);
  if (!parsed.tag?.length) throw new UsageError('--tag is required');
  const repository = parsed.repository ?? image;
  try {
    checkNames(repository, parsed.tag);
    registryBaseUrl({ registry: parsed.registry });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const credentials = credentialsFrom(parsed.username, parsed['password-file']);

  const started = performance.now();
  const built = await buildTestImage(image as TestImageName);
  const builtAt = performance.now();
  const results = await push(
    { registry: parsed.registry, ...(parsed.ca ? { caFile: parsed.ca } : {}), ...(credentials ? { credentials } : {}) },
    repository,
    parsed.tag,
    built,
  );
  const pushedAt = performance.now();
  for (const result of results) process.stdout.write(`${result.reference}\n`);
  if (parsed.verbose) {
    const layers = built.layers.reduce((sum, layer) => sum + layer.size, 0);
    const { uploadedBlobs, uploadedBytes, skippedBlobs } = results[0]!;
    process.stderr.write(
      `${image}: ${platformName(built.platform)}, ${built.layers.length} layer(s) of ${mb(layers)} gzipped, built in ${((builtAt - started) / 1000).toFixed(2)} s; ` +
      `pushed ${uploadedBlobs} blob(s) of ${mb(uploadedBytes)} (${skippedBlobs} already there) and ${results.length} tag(s) in ${((pushedAt - builtAt) / 1000).toFixed(2)} s\n`,
    );
  }
}

// Run as a command, not when imported (for buildTestImage).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`test-images: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}
