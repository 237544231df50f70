// Stands in for escalade/sync, the find-up that yargs uses for one thing here: at every start it
// looks for a package.json from the current directory up to the root (reading each directory)
// to guess a version for its built-in --version, which we replace with our own. What it would
// find belongs to whatever project the user happens to be in. Finding nothing, yargs carries on
// without it (it catches the failure), and the start does not depend on the directory.
'use strict';

module.exports = function findUp() {
  return undefined;
};
