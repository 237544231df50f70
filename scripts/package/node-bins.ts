// The official Node.js binaries the executables are built from, taken from the npm registry (the
// only place our build machines can reach that has them). `npm pack` downloads a package
// whatever the platform (`npm install` refuses foreign ones); each tarball must match the
// integrity pinned in targets.ts before its binary is used. They are cached outside the repo.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exec } from './exec';
import { NODE_VERSION, cacheRoot, type Target } from './targets';

function binaryDir(target: Target, root: string): string {
  return path.join(root, 'node-bins', `${target.nodePackage}-${NODE_VERSION}`);
}

function cachedBinaryPath(target: Target, root: string): string {
  return path.join(binaryDir(target, root), path.basename(target.nodeBinary));
}

/** The base binary of each target, fetched and verified unless the cache already has it. */
export async function baseBinaries(wanted: readonly Target[], log: (line: string) => void, root = cacheRoot()): Promise<Map<Target, string>> {
  const missing = wanted.filter((target) => {
    const marker = path.join(binaryDir(target, root), 'integrity');
    return !(existsSync(cachedBinaryPath(target, root)) && existsSync(marker) && readFileSync(marker, 'utf8') === target.integrity);
  });
  if (missing.length > 0) {
    mkdirSync(path.join(root, 'node-bins'), { recursive: true });
    const download = mkdtempSync(path.join(root, 'node-bins', '.download-'));
    try {
      const specs = missing.map((target) => `${target.nodePackage}@${NODE_VERSION}`);
      log(`fetching ${specs.join(' ')} with npm pack`);
      // One npm run for all of them: npm fetches in parallel, and checks each tarball against the
      // integrity the registry publishes.
      const { stdout } = await exec('npm', ['pack', ...specs, '--pack-destination', download, '--json', '--loglevel=error']);
      const packed = JSON.parse(stdout.toString('utf8')) as { name: string; filename: string }[];
      for (const target of missing) {
        const entry = packed.find((p) => p.name === target.nodePackage);
        if (!entry) throw new Error(`npm pack did not produce ${target.nodePackage}`);
        const tarball = path.join(download, entry.filename);
        const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
        if (integrity !== target.integrity) {
          throw new Error(`${entry.filename} has integrity ${integrity}, but ${target.integrity} is pinned in scripts/package/targets.ts`);
        }
        const extracted = path.join(download, target.nodePackage);
        mkdirSync(extracted);
        await exec('tar', ['-xzf', tarball, '-C', extracted, target.nodeBinary]);
        const dir = binaryDir(target, root);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        renameSync(path.join(extracted, target.nodeBinary), cachedBinaryPath(target, root));
        // Written last: a marker means the binary next to it came from a verified tarball.
        writeFileSync(path.join(dir, 'integrity'), target.integrity);
      }
    } finally {
      rmSync(download, { recursive: true, force: true });
    }
  }
  return new Map(wanted.map((target) => [target, cachedBinaryPath(target, root)]));
}
