// The layout of the bundle, dist/kubectl-pullsecret: the plugin's own code first, then the large
// libraries that only some commands use (@kubernetes/client-node, node-forge, prom-client),
// wrapped in a function that evaluates them on first use.
//
// Why two parts: the standalone executable copies its whole script into V8 at every start, and on
// machines where a first touch of memory is slow (about 10 us a page in the VMs we test on) the
// libraries' 2.1 MB cost `list` 16-27 ms and 700 page faults, and `list` never runs them. The
// executable (scripts/package/) compiles the two parts as two scripts and the second only when a
// command needs it; run with Node, the file is one script, as any CommonJS module.
//
// The plugin's code reaches the libraries only through the loader: scripts/build.mjs replaces
// each of them by a module reading `module.exports = __kpsLibraries()[name]`. Run with Node, the
// loader is the function declared at the end of the file; in the executable it is a parameter of
// the first part, given by sea-main.cjs.

/** The packages in the libraries' part: importing any one of them evaluates them all. */
export const LIBRARY_PACKAGES = ['@kubernetes/client-node', 'node-forge', 'prom-client'];

/** The loader's name, free in the plugin's code and declared by the libraries part. */
export const LIBRARIES_LOADER = '__kpsLibraries';

const LOADED = '__kpsLibrariesLoaded';
const OPENING = `\n//# the libraries, evaluated on first use (scripts/bundle-layout.mjs)\nvar ${LOADED};function ${LIBRARIES_LOADER}(){return ${LOADED}??=(function(){var module={exports:{}};(function(exports,module){\n`;
const CLOSING = `\n})(module.exports,module);return module.exports})()}\n`;

/**
 * The bundle from its two parts: `plugin`, the plugin's code; `libraries`, CommonJS code whose
 * module.exports has each library under the name the plugin imports it by.
 */
export function joinBundle(plugin, libraries) {
  return `${plugin.replace(/\n?$/, '')}${OPENING}${libraries.replace(/\n?$/, '')}${CLOSING}`;
}

/** The two parts of a bundle that joinBundle made; an Error for anything else. */
export function splitBundle(bundle) {
  const at = bundle.indexOf(OPENING);
  if (at === -1 || !bundle.endsWith(CLOSING) || bundle.indexOf(OPENING, at + 1) !== -1) {
    throw new Error('the bundle is not laid out as scripts/bundle-layout.mjs says: rebuild it with npm run build');
  }
  return { plugin: bundle.slice(0, at), libraries: bundle.slice(at + OPENING.length, bundle.length - CLOSING.length) };
}
