// Bundles the plugin into one executable CommonJS file, dist/kubectl-pullsecret: no
// node_modules at run time, the same file serves `kubectl pullsecret` and the packaging step.
// It is built in two parts, the plugin's code and the large libraries only some commands use,
// joined as scripts/bundle-layout.mjs says (and why).
import { build } from 'esbuild';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIBRARIES_LOADER, LIBRARY_PACKAGES, joinBundle } from './bundle-layout.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const outfile = path.join(root, 'dist', 'kubectl-pullsecret');
const stub = path.join(root, 'scripts', 'stubs', 'missing-optional.cjs');

/** What both parts are built with. */
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
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
};

/**
 * The names the plugin imports from the Kubernetes client, read off the sources: the libraries'
 * part imports only those (an ES import lets esbuild leave the rest out: 2 MB of the client's 4).
 */
function clientNames() {
  const names = new Set();
  for (const dir of ['cmd', 'lib']) {
    for (const entry of readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const source = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
      for (const [statement, clause] of source.matchAll(/^import\s+(?!type\s)([^;]*?)\s+from\s+'@kubernetes\/client-node';/gms)) {
        const specifiers = /^\{([^}]*)\}$/.exec(clause.trim());
        if (!specifiers) throw new Error(`only named imports of @kubernetes/client-node can be bundled on first use, not: ${statement}`);
        for (const specifier of specifiers[1].split(',').map((s) => s.trim()).filter(Boolean)) {
          if (!specifier.startsWith('type ')) names.add(specifier.split(/\s+as\s+/)[0]);
        }
      }
    }
  }
  return [...names].sort();
}

/**
 * How the libraries' part's entry imports each of LIBRARY_PACKAGES (large, and used by neither
 * list, --version, completion nor a one-shot sync) into `local`.
 */
const LIBRARY_IMPORTS = {
  '@kubernetes/client-node': (local) => {
    const names = clientNames().join(', ');
    return `import { ${names} } from '@kubernetes/client-node';\nconst ${local} = { ${names} };`;
  },
  'node-forge': (local) => `import ${local} from 'node-forge';`,
  'prom-client': (local) => `import * as ${local} from 'prom-client';`,
};

/** The libraries' part's entry: each of LIBRARY_PACKAGES exported under its package name. */
function librariesEntry() {
  const entries = LIBRARY_PACKAGES.map((name, i) => {
    const importAs = LIBRARY_IMPORTS[name];
    if (!importAs) throw new Error(`scripts/build.mjs: no import of ${name} for the libraries' part`);
    return { name, local: `library${i}`, importAs };
  });
  return [
    ...entries.map(({ local, importAs }) => importAs(local)),
    `export { ${entries.map(({ name, local }) => `${local} as ${JSON.stringify(name)}`).join(', ')} };`,
  ].join('\n');
}

/** In the plugin's part, each of LIBRARY_PACKAGES is a module that takes it from the libraries' part. */
const librariesOnFirstUse = {
  name: 'libraries-on-first-use',
  setup(plugin) {
    plugin.onResolve({ filter: /^[@a-z]/ }, (args) => (LIBRARY_PACKAGES.includes(args.path) ? { path: args.path, namespace: 'library' } : undefined));
    plugin.onLoad({ filter: /.*/, namespace: 'library' }, (args) => ({
      contents: `module.exports = ${LIBRARIES_LOADER}()[${JSON.stringify(args.path)}];`,
      loader: 'js',
    }));
  },
};

const started = Date.now();
const [plugin, libraries] = await Promise.all([
  build({
    ...common,
    entryPoints: [path.join(root, 'cmd', 'main.ts')],
    outfile,
    // yargs (ESM) calls createRequire(import.meta.url), which is empty in CommonJS output.
    banner: { js: "#!/usr/bin/env node\nconst __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { __PLUGIN_VERSION__: JSON.stringify(`v${version}`), 'import.meta.url': '__importMetaUrl' },
    plugins: [librariesOnFirstUse],
  }),
  build({
    ...common,
    stdin: {
      contents: librariesEntry(),
      resolveDir: root,
      sourcefile: 'libraries.js',
      loader: 'js',
    },
  }),
]);
const text = (result) => result.outputFiles[0].text;
mkdirSync(path.dirname(outfile), { recursive: true });
writeFileSync(outfile, joinBundle(text(plugin), text(libraries)));
chmodSync(outfile, 0o755);
// The repo is an ES module package; the bundle is CommonJS (what single-executable builds need).
writeFileSync(path.join(root, 'dist', 'package.json'), '{"type": "commonjs"}\n');
const megabytes = (result) => (text(result).length / 1e6).toFixed(1);
console.log(`built ${path.relative(root, outfile)} (${megabytes(plugin)} MB of the plugin, ${megabytes(libraries)} MB of libraries) in ${Date.now() - started} ms`);
