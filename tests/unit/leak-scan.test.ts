// The leak scanner the integration harness runs at the end of every test file
// (tests/integration/leak-scan.ts): it must find a password in every form it can take, allow
// only the Secret data of a manifest the user asked for, and redact what it reports.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LeakScanner, MIN_SCANNED_LENGTH, outputFormatOf, printsManifests, scannableManifest, verbOf } from '../integration/leak-scan';

const PASSWORD = 'FAKE-unit-leak-pw';
const USER = 'ci-bot';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const dockerConfig = JSON.stringify({ auths: { 'r.example': { username: USER, password: PASSWORD, auth: b64(`${USER}:${PASSWORD}`) } } });

function scannerWith(argv: string[], stdout: string, stderr = ''): LeakScanner {
  const scanner = new LeakScanner();
  scanner.remember(PASSWORD, [USER]);
  scanner.record({ argv, read: () => ({ stdout, stderr }) });
  return scanner;
}

describe('leak scanner', () => {
  test('finds the password as given, on stdout and on stderr, with the line and a redacted command', () => {
    const scanner = scannerWith(['add', 'x', '--username', USER, '--password', PASSWORD], 'ok\n', `first\nerror: bad password ${PASSWORD}\n`);
    const leaks = scanner.scan();
    assert.equal(leaks.length, 1);
    assert.deepEqual({ ...leaks[0] }, {
      command: `add x --username ${USER} --password ***`,
      stream: 'stderr',
      form: 'password',
      line: 2,
      excerpt: 'error: bad password ***',
    });
    const report = scanner.format(leaks);
    assert.match(report, /1 password leak\(s\)/);
    assert.match(report, /password on stderr line 2 of `add x --username ci-bot --password \*\*\*`/);
    assert.ok(!report.includes(PASSWORD), report);
  });

  test('finds base64 of the password, of user:password, JSON-escaped passwords, and passwords inside base64 text', () => {
    const cases: [string, string, string][] = [
      ['base64(password)', `token ${b64(PASSWORD)}`, 'base64(password)'],
      ['auth value', `"auth": "${b64(`${USER}:${PASSWORD}`)}"`, `base64(${USER}:password)`],
      ['a whole .dockerconfigjson', `data: ${b64(dockerConfig)}`, 'inside base64 text'],
      ['a nested base64 (base64 of a line holding an auth)', b64(`auth=${b64(`someone:${PASSWORD}`)}`), 'inside base64 text'],
    ];
    for (const [label, stdout, form] of cases) {
      const leaks = scannerWith(['list'], stdout).scan();
      assert.ok(leaks.some((leak) => leak.form === form), `${label}: ${JSON.stringify(leaks)}`);
    }
    const quoted = new LeakScanner();
    quoted.remember('FAKE-"quoted"\\pw');
    quoted.record({ argv: ['list', '-o', 'json'], read: () => ({ stdout: JSON.stringify({ p: 'FAKE-"quoted"\\pw' }), stderr: '' }) });
    assert.deepEqual(quoted.scan().map((leak) => leak.form), ['JSON-escaped password']);
  });

  test('Secret data in `add|sync|remove -o yaml|json` is allowed; anything else there, or in list -o json, is not', () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, data: { '.dockerconfigjson': b64(dockerConfig) } };
    const list = { apiVersion: 'v1', kind: 'List', items: [secret, { kind: 'ServiceAccount', metadata: { name: 'default' } }] };
    const yaml = `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata:\n      name: x\n    data:\n      .dockerconfigjson: ${b64(dockerConfig)}\n`;
    assert.deepEqual(scannerWith(['add', 'x', '-o', 'json'], JSON.stringify(list)).scan(), []);
    assert.deepEqual(scannerWith(['sync', 'x', '--output=yaml'], yaml).scan(), []);
    assert.deepEqual(scannerWith(['remove', 'x', '-oyaml'], yaml).scan(), []);
    // The same manifest where it was not asked for, or the password outside a Secret's data.
    assert.notDeepEqual(scannerWith(['list', '-o', 'json'], JSON.stringify(list)).scan(), []);
    assert.notDeepEqual(scannerWith(['add', 'x'], JSON.stringify(list)).scan(), []);
    const annotated = { ...secret, metadata: { name: 'x', annotations: { note: PASSWORD } } };
    assert.notDeepEqual(scannerWith(['add', 'x', '-o', 'json'], JSON.stringify(annotated)).scan(), []);
    // stderr of a manifest run is always scanned.
    assert.notDeepEqual(scannerWith(['add', 'x', '-o', 'yaml'], yaml, `error: ${PASSWORD}`).scan(), []);
  });

  test('short passwords are remembered for redaction but not scanned for', () => {
    const scanner = new LeakScanner();
    scanner.remember('p'.repeat(MIN_SCANNED_LENGTH - 1));
    scanner.record({ argv: ['list'], read: () => ({ stdout: 'p'.repeat(40), stderr: '' }) });
    assert.deepEqual(scanner.scan(), []);
    assert.deepEqual(scanner.scannedPasswords(), []);
  });

  test('a forgotten record is not scanned, and a running process is read at scan time', () => {
    const scanner = new LeakScanner();
    scanner.remember(PASSWORD);
    let stderr = '';
    const forget = scanner.record({ argv: ['sync', '--all', '--watch'], read: () => ({ stdout: '', stderr }) });
    assert.deepEqual(scanner.scan(), []);
    stderr = `later: ${PASSWORD}`;
    assert.equal(scanner.scan().length, 1);
    forget();
    assert.deepEqual(scanner.scan(), []);
    assert.equal(scanner.runCount, 0);
  });

  test('command-line parsing: verb, -o forms, sh -c lines', () => {
    assert.equal(verbOf(['--kubeconfig', 'k', 'add', 'x']), 'add');
    assert.equal(verbOf(['-c', 'kubectl pullsecret sync regcred -n ci']), 'sync');
    assert.equal(outputFormatOf(['list', '-o', 'json']), 'json');
    assert.equal(outputFormatOf(['list', '-ojson']), 'json');
    assert.equal(outputFormatOf(['list', '-o=yaml']), 'yaml');
    assert.equal(outputFormatOf(['list', '--output=yaml']), 'yaml');
    assert.equal(outputFormatOf(['list']), undefined);
    assert.equal(printsManifests(['add', 'x', '-o', 'yaml']), true);
    assert.equal(printsManifests(['list', '-o', 'yaml']), false);
    assert.equal(printsManifests(['add', 'x', '-o', 'name']), false);
    assert.equal(scannableManifest(''), '');
    assert.equal(scannableManifest('not: [valid'), 'not: [valid');
  });
});
