// Stands in for string-width, which yargs, cliui and wrap-ansi use to lay out help text. The real
// one builds an Intl.Segmenter and large Unicode-property regular expressions as it loads: tens
// of milliseconds at every start, help printed or not. Help text here is ASCII, so the width is
// the number of characters once ANSI escapes are removed (East Asian wide characters count 2).
'use strict';

const ansiEscape = /\u001B\[[0-9;?]*[ -/]*[@-~]|\u001B\][^\u0007\u001B]*(?:\u0007|\u001B\\)/g;

function isWide(code) {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}

module.exports = function stringWidth(text) {
  if (typeof text !== 'string') return 0;
  let width = 0;
  for (const char of text.replace(ansiEscape, '')) {
    const code = char.codePointAt(0);
    // Control characters and combining marks take no column.
    if (code < 0x20 || (code >= 0x7f && code < 0xa0) || (code >= 0x300 && code <= 0x36f)) continue;
    width += isWide(code) ? 2 : 1;
  }
  return width;
};
