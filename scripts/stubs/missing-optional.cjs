// Stands in for optional dependencies of the bundled client (bufferutil, utf-8-validate,
// encoding, supports-color): their callers try require() and fall back when it throws
// MODULE_NOT_FOUND; a single-executable build would otherwise warn on every run.
const error = new Error('optional module not bundled');
error.code = 'MODULE_NOT_FOUND';
throw error;
