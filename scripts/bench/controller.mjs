// `npm run bench -- controller [--namespaces N] [--pods P] [--concurrency C] [--keep]`: the
// in-cluster controller on a dedicated local cluster with its node. The work is in controller.ts
// (it shares the e2e tests' deployment of the controller image); this runs it with tsx.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'controller.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: path.resolve(here, '..', '..'),
});
process.exit(result.status ?? 1);
