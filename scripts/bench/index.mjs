// `npm run bench -- NAME [args]`: runs scripts/bench/NAME.mjs. Benchmarks print figures and
// ratios against a baseline measured in the same run; they are not tests and assert nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'index.mjs' && !f.startsWith('_')).map((f) => f.slice(0, -4));
const [name, ...rest] = process.argv.slice(2);
if (!name || !existsSync(path.join(here, `${name}.mjs`))) {
  console.error(`usage: npm run bench -- ${available.join('|')} [options]`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [path.join(here, `${name}.mjs`), ...rest], { stdio: 'inherit' });
process.exit(result.status ?? 1);
