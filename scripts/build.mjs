// Bundles the plugin into one executable CommonJS file, dist/kubectl-pullsecret: no
// node_modules at run time, the same file serves `kubectl pullsecret` and the packaging step.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const outfile = path.join(root, 'dist', 'kubectl-pullsecret');
const stub = path.join(root, 'scripts', 'stubs', 'missing-optional.cjs');

const started = Date.now();
const result = await build({
  entryPoints: [path.join(root, 'cmd', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // yargs (ESM) calls createRequire(import.meta.url), which is empty in CommonJS output.
  banner: { js: "#!/usr/bin/env node\nconst __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { __PLUGIN_VERSION__: JSON.stringify(`v${version}`), 'import.meta.url': '__importMetaUrl' },
  alias: {
    bufferutil: stub,
    'utf-8-validate': stub,
    encoding: stub,
    'supports-color': stub,
    // Node >= 21 warns about the built-in punycode that the client's URL parser pulls in.
    punycode: 'punycode/punycode.js',
    // The real one costs tens of milliseconds at every start (see the stub).
    'string-width': path.join(root, 'scripts', 'stubs', 'string-width.cjs'),
    // yargs' package.json lookup from the current directory (see the stub).
    'escalade/sync': path.join(root, 'scripts', 'stubs', 'find-up-nothing.cjs'),
  },
  metafile: true,
});
chmodSync(outfile, 0o755);
// The repo is an ES module package; the bundle is CommonJS (what single-executable builds need).
writeFileSync(path.join(root, 'dist', 'package.json'), '{"type": "commonjs"}\n');
const bytes = result.metafile.outputs[path.relative(process.cwd(), outfile)]?.bytes ?? readFileSync(outfile).length;
console.log(`built ${path.relative(root, outfile)} (${(bytes / 1e6).toFixed(1)} MB) in ${Date.now() - started} ms`);
