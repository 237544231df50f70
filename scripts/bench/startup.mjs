// `npm run bench -- startup [--runs N] [--repackage]`
//
// Startup of the standalone linux/amd64 executable, side by side in one run with the Go binary
// users compare it with, against a local control plane of its own:
//   - `kubectl-pullsecret --version` (target: median under 100 ms)
//   - `kubectl-pullsecret list -n default` vs `kubectl get secrets -n default` (target: within 1.2x)
//   - the from-source install, `node dist/kubectl-pullsecret list -n default`, for the README's advice
// The commands take turns, N runs each after two warm-up rounds (default 30). Printed: median and
// p90 wall time, mean CPU time (user+sys, from the kernel's accounting of waited-for children),
// the ratios, and the size of every release archive (target: each under 40 MB).
// Uses dist/release from `npm run package`, building it first when it is missing or --repackage.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 0) || 30;
const release = path.join(root, 'dist', 'release');
const archive = path.join(release, 'kubectl-pullsecret_linux_amd64.tar.gz');

if (args.includes('--repackage') || !existsSync(archive)) {
  console.log('building the release (npm run package)...');
  const built = spawnSync('npm', ['run', 'package', '--silent'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const scratch = mkdtempSync(path.join(tmpdir(), 'kps-bench-startup-'));
// The control plane alone: start-up needs no node.
const clusterEnv = { ...process.env, KPS_CLUSTER_DIR: path.join(scratch, 'cluster'), KPS_CLUSTER_NODE: 'none' };
const cluster = (verb) => spawnSync('bash', [path.join(root, 'scripts', 'cluster', 'cluster.sh'), verb], { env: clusterEnv, encoding: 'utf8' });

try {
  spawnSync('tar', ['-xzf', archive, '-C', scratch]);
  const binary = path.join(scratch, 'kubectl-pullsecret');
  const up = cluster('up');
  if (up.status !== 0) throw new Error(`cluster.sh up failed:\n${up.stderr}`);
  const env = { PATH: process.env.PATH, HOME: scratch, KUBECONFIG: path.join(clusterEnv.KPS_CLUSTER_DIR, 'kubeconfig') };

  const commands = [
    { name: 'kubectl-pullsecret --version', file: binary, argv: ['--version'] },
    { name: 'kubectl-pullsecret list -n default', file: binary, argv: ['list', '-n', 'default'] },
    { name: 'kubectl get secrets -n default', file: 'kubectl', argv: ['get', 'secrets', '-n', 'default'] },
    { name: 'node dist/kubectl-pullsecret list', file: process.execPath, argv: [path.join(root, 'dist', 'kubectl-pullsecret'), 'list', '-n', 'default'] },
  ];
  // cutime + cstime of this process: what the kernel charged to the children we waited for.
  const ticksPerSecond = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const childCpuMs = () => {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
  };
  const samples = commands.map(() => ({ wall: [], cpu: 0 }));
  for (let round = -2; round < runs; round++) {
    commands.forEach((command, i) => {
      const cpuBefore = childCpuMs();
      const started = process.hrtime.bigint();
      const result = spawnSync(command.file, command.argv, { env, encoding: 'utf8' });
      const wall = Number(process.hrtime.bigint() - started) / 1e6;
      if (result.status !== 0) throw new Error(`${command.name} exited ${result.status}: ${result.stderr}`);
      if (round < 0) return; // warm-up: page cache, API server caches
      samples[i].wall.push(wall);
      samples[i].cpu += childCpuMs() - cpuBefore;
    });
  }

  const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const fmt = (ms) => `${ms.toFixed(1).padStart(7)} ms`;
  console.log(`\nstartup, ${runs} runs each, taking turns (load average ${loadavg()[0].toFixed(2)} on ${process.platform})`);
  console.log(`${'command'.padEnd(38)}${'median'.padStart(10)}${'p90'.padStart(11)}${'cpu mean'.padStart(11)}`);
  const medians = commands.map((command, i) => {
    const m = median(samples[i].wall);
    console.log(`${command.name.padEnd(38)}${fmt(m)} ${fmt(quantile(samples[i].wall, 0.9))} ${fmt(samples[i].cpu / runs)}`);
    return m;
  });
  const [versionMs, listMs, kubectlMs, bundleMs] = medians;
  console.log(`\n--version median ${versionMs.toFixed(1)} ms (target < 100 ms): ${versionMs < 100 ? 'met' : 'NOT met'}`);
  const ratio = listMs / kubectlMs;
  console.log(`list / kubectl get secrets: ${ratio.toFixed(3)}x (target <= 1.2x): ${ratio <= 1.2 ? 'met' : 'NOT met'}`);
  console.log(`the bundle run by node (from source) / kubectl get secrets: ${(bundleMs / kubectlMs).toFixed(2)}x; / the standalone executable: ${(bundleMs / listMs).toFixed(2)}x`);

  console.log('\narchives (target: each < 40 MB)');
  for (const file of readdirSync(release).filter((f) => f.endsWith('.tar.gz')).sort()) {
    const bytes = statSync(path.join(release, file)).size;
    console.log(`${file.padEnd(42)}${(bytes / 1e6).toFixed(1).padStart(6)} MB ${bytes < 40e6 ? '' : ' OVER'}`);
  }
} finally {
  cluster('down');
  rmSync(scratch, { recursive: true, force: true });
}
