import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { UsageError } from '../../lib/errors';
import {
  hostLabelMatches,
  matchingKeys,
  normalizeImage,
  normalizeRegistryKey,
  registryKeyMatchesImage,
  sameRegistry,
  shortLivedTokenRegistry,
  validateServerKey,
  type ImageReference,
  type RegistryKey,
} from '../../lib/registry';

const SHA256 = `sha256:${'a'.repeat(64)}`;

/** Asserts a one-line UsageError (exit 2) whose message matches `pattern`. */
function assertUsageError(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected UsageError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    assert.ok(!error.message.includes('\n'), 'message must be one line');
    assert.match(error.message, pattern);
    return true;
  });
}

describe('normalizeImage', () => {
  const cases: Array<[string, Partial<ImageReference>]> = [
    ['nginx', { name: 'docker.io/library/nginx', registry: 'docker.io', host: 'docker.io', path: 'library/nginx' }],
    ['nginx:1.25', { name: 'docker.io/library/nginx', tag: '1.25' }],
    ['library/nginx', { name: 'docker.io/library/nginx' }],
    ['user/app', { name: 'docker.io/user/app', path: 'user/app' }],
    ['user/team/app:v1', { name: 'docker.io/user/team/app', tag: 'v1' }],
    ['docker.io/nginx', { name: 'docker.io/library/nginx' }],
    ['docker.io/library/nginx', { name: 'docker.io/library/nginx' }],
    ['index.docker.io/nginx', { name: 'docker.io/library/nginx', registry: 'docker.io' }],
    ['index.docker.io/user/app:v1', { name: 'docker.io/user/app', tag: 'v1' }],
    [`ubuntu@${SHA256}`, { name: 'docker.io/library/ubuntu', digest: SHA256 }],
    ['localhost/app', { name: 'localhost/app', registry: 'localhost', host: 'localhost', path: 'app' }],
    ['localhost:5000/x', { name: 'localhost:5000/x', registry: 'localhost:5000', host: 'localhost', port: '5000', path: 'x' }],
    [
      `reg.example:5000/team/app:tag@${SHA256}`,
      { name: 'reg.example:5000/team/app', registry: 'reg.example:5000', host: 'reg.example', port: '5000', path: 'team/app', tag: 'tag', digest: SHA256 },
    ],
    ['reg.example/team/app', { name: 'reg.example/team/app', registry: 'reg.example', port: undefined, tag: undefined, digest: undefined }],
    ['[::1]:5000/app:v1', { name: '[::1]:5000/app', registry: '[::1]:5000', host: '[::1]', port: '5000', path: 'app', tag: 'v1' }],
    ['[::1]/app', { name: '[::1]/app', host: '[::1]', port: undefined }],
    // A single component is a Docker Hub name even when it looks like a host.
    ['localhost', { name: 'docker.io/library/localhost' }],
    ['example.com', { name: 'docker.io/library/example.com' }],
    ['localhost:5000', { name: 'docker.io/library/localhost', tag: '5000' }],
    // Repository paths are lowercase, so an uppercase first component must be a host.
    ['Foo/bar', { name: 'Foo/bar', registry: 'Foo' }],
    ['REG.EXAMPLE/app', { name: 'REG.EXAMPLE/app', registry: 'REG.EXAMPLE' }],
    ['nginx:Latest_1.x-y', { tag: 'Latest_1.x-y' }],
    ['reg.example/a__b/c.d/e-f/g---h', { path: 'a__b/c.d/e-f/g---h' }],
    [`reg.example/app@sha512:${'c'.repeat(128)}`, { digest: `sha512:${'c'.repeat(128)}` }],
    [`reg.example/app:${'x'.repeat(128)}`, { tag: 'x'.repeat(128) }],
    [`reg.example/${'a'.repeat(255)}`, { path: 'a'.repeat(255) }],
  ];
  for (const [image, expected] of cases) {
    it(`normalises ${image.length > 60 ? `${image.slice(0, 60)}…` : image}`, () => {
      const reference = normalizeImage(image);
      for (const [field, value] of Object.entries(expected)) {
        assert.equal(reference[field as keyof ImageReference], value, field);
      }
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['a b', /whitespace/],
    [' nginx', /whitespace/],
    ['nginx\n', /whitespace or control/],
    ['Nginx', /must be lowercase/],
    ['foo/Bar', /must be lowercase/],
    ['reg.example/App', /must be lowercase/],
    ['a'.repeat(64), /image ID/],
    ['app:', /tag/],
    ['reg.example/app:.x', /tag/],
    [`reg.example/app:${'x'.repeat(129)}`, /tag/],
    [':tag', /repository path/],
    [`@${SHA256}`, /repository path/],
    ['/', /repository path/],
    ['docker.io/', /repository path/],
    ['reg.example/a___b', /repository path/],
    ['reg.example/a.-b', /repository path/],
    ['reg.example/-a', /repository path/],
    ['reg.example/a-', /repository path/],
    ['reg.example//x', /repository path/],
    [`reg.example/${'a'.repeat(256)}`, /longer than 255/],
    ['reg-.example/app', /not a valid registry host/],
    ['reg.example:/app', /not a valid registry host/],
    ['reg.example:abc/app', /not a valid registry host/],
    ['a:b/c', /not a valid registry host/],
    ['[abc:5000/app', /not a valid registry host/],
    ['[abc/app', /repository path/],
    ['reg.example/app@sha256:abc', /digest/],
    [`reg.example/app@sha256:${'A'.repeat(64)}`, /lowercase hex/],
    [`reg.example/app@md5:${'c'.repeat(32)}`, /not supported/],
    [`a@b@${SHA256}`, /digest/],
  ];
  for (const [image, message] of invalid) {
    it(`rejects ${JSON.stringify(image.length > 40 ? `${image.slice(0, 40)}…` : image)}`, () => {
      assertUsageError(() => normalizeImage(image), message);
    });
  }

  it('quotes the image in the message', () => {
    assertUsageError(() => normalizeImage('Nginx'), /^invalid image "Nginx": /);
  });
});

describe('normalizeRegistryKey', () => {
  const cases: Array<[string, RegistryKey]> = [
    ['reg.example', { key: 'reg.example', registry: 'reg.example', host: 'reg.example', path: '' }],
    ['https://index.docker.io/v1/', { key: 'index.docker.io', registry: 'index.docker.io', host: 'index.docker.io', path: '' }],
    ['http://index.docker.io/v2/', { key: 'index.docker.io', registry: 'index.docker.io', host: 'index.docker.io', path: '' }],
    ['index.docker.io/v1/', { key: 'index.docker.io', registry: 'index.docker.io', host: 'index.docker.io', path: '' }],
    ['https://reg.example/', { key: 'reg.example', registry: 'reg.example', host: 'reg.example', path: '' }],
    ['reg.example:5000', { key: 'reg.example:5000', registry: 'reg.example:5000', host: 'reg.example', port: '5000', path: '' }],
    [
      'reg.example:5000/team-a',
      { key: 'reg.example:5000/team-a', registry: 'reg.example:5000', host: 'reg.example', port: '5000', path: 'team-a' },
    ],
    ['https://reg.example/v2/team/', { key: 'reg.example/team/', registry: 'reg.example', host: 'reg.example', path: 'team/' }],
    ['reg.example/v1/v2/', { key: 'reg.example/v2/', registry: 'reg.example', host: 'reg.example', path: 'v2/' }],
    // The kubelet strips only `/v1/` and `/v2/`; a bare `/v2` is a repository path prefix.
    ['reg.example/v2', { key: 'reg.example/v2', registry: 'reg.example', host: 'reg.example', path: 'v2' }],
    ['https://index.docker.io/v1', { key: 'index.docker.io/v1', registry: 'index.docker.io', host: 'index.docker.io', path: 'v1' }],
    ['*.kubernetes.io', { key: '*.kubernetes.io', registry: '*.kubernetes.io', host: '*.kubernetes.io', path: '' }],
    ['*.my-registry.example/images', { key: '*.my-registry.example/images', registry: '*.my-registry.example', host: '*.my-registry.example', path: 'images' }],
    ['[::1]:5000', { key: '[::1]:5000', registry: '[::1]:5000', host: '[::1]', port: '5000', path: '' }],
    ['[::1]:5000/v2/team', { key: '[::1]:5000/team', registry: '[::1]:5000', host: '[::1]', port: '5000', path: 'team' }],
    ['[::1]', { key: '[::1]', registry: '[::1]', host: '[::1]', path: '' }],
    ['https://[2001:db8::1]:443/', { key: '[2001:db8::1]:443', registry: '[2001:db8::1]:443', host: '[2001:db8::1]', port: '443', path: '' }],
    // Go's url.Parse keeps case and drops user info, query and fragment.
    ['REG.Example', { key: 'REG.Example', registry: 'REG.Example', host: 'REG.Example', path: '' }],
    ['user:pw@reg.example', { key: 'reg.example', registry: 'reg.example', host: 'reg.example', path: '' }],
    ['reg.example/path?x=1#frag', { key: 'reg.example/path', registry: 'reg.example', host: 'reg.example', path: 'path' }],
    // '?' starts the query for Go, so it never survives as a glob.
    ['reg?.example', { key: 'reg', registry: 'reg', host: 'reg', path: '' }],
    ['reg.example/a%20b', { key: 'reg.example/a b', registry: 'reg.example', host: 'reg.example', path: 'a b' }],
    ['reg.example:', { key: 'reg.example:', registry: 'reg.example:', host: 'reg.example', path: '' }],
    // Other schemes are not recognised: https:// is prepended and the result is nonsense.
    ['ftp://reg.example', { key: 'ftp://reg.example', registry: 'ftp:', host: 'ftp', path: '/reg.example' }],
  ];
  for (const [key, expected] of cases) {
    it(`normalises ${key}`, () => {
      assert.deepEqual(normalizeRegistryKey(key), expected);
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /no host name/],
    ['/', /no host name/],
    ['https://', /no host name/],
    ['reg example', /cannot parse|can parse/],
    [' reg.example', /can parse/],
    ['::1', /can parse/],
    ['reg.example:abc', /can parse/],
    ['reg.example:5000:6000', /can parse/],
    ['reg.example/%zz', /can parse/],
    ['reg.example#%zz', /can parse/],
    ['a%41.example', /can parse/],
    ['[abc]:5000', /can parse/],
    ['[1.2.3.4]:5000', /can parse/],
    ['[a-c]reg.example', /can parse/],
    ['reg[^0-9].example', /can parse/],
    // Go 1.25.2+ url.Parse refuses a '[' after the start of the host: current kubelets ignore the key.
    ['reg[0-9].example', /can parse/],
    ['reg.example\\x', /can parse/],
    ['u p@reg.example', /can parse/],
  ];
  for (const [key, message] of invalid) {
    it(`rejects ${JSON.stringify(key)}`, () => {
      assertUsageError(() => normalizeRegistryKey(key), message);
    });
  }
});

describe('hostLabelMatches (Go filepath.Match)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*', 'abc', true],
    ['*', '', true],
    ['?', 'a', true],
    ['?', '', false],
    ['?', 'ab', false],
    ['a*', 'abc', true],
    ['*c', 'abc', true],
    ['a*b*c', 'axbxc', true],
    ['a*b*c', 'axbx', false],
    ['*b*', 'abcabc', true],
    ['*-good', 'prefix-good', true],
    ['*-good', 'good', false],
    ['a?c', 'abc', true],
    ['[abc]', 'b', true],
    ['[abc]', 'x', false],
    ['[a-c]', 'b', true],
    ['[a-c]', 'z', false],
    ['[a-z][0-9]', 'a1', true],
    ['[^a-c]', 'x', true],
    ['[^a-c]', 'b', false],
    ['[^é]', 'e', true],
    // Go has no '!' negation: `[!a]` is the class of '!' and 'a'.
    ['[!a]', '!', true],
    ['[!a]', 'a', true],
    ['[!a]', 'b', false],
    ['[z-a]', 'b', false],
    ['[\\]]', ']', true],
    ['[\\-]', '-', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['é', 'é', true],
    ['[à-ü]', 'é', true],
    // Malformed patterns match nothing (the kubelet ignores Match's error).
    ['[', 'a', false],
    ['[]', 'a', false],
    ['[^]', 'a', false],
    ['[]a]', ']', false],
    ['[a-]', 'a', false],
    ['[-a]', 'a', false],
    ['[a-c', 'a', false],
    ['a\\', 'a', false],
    ['*x[', 'ab', false],
  ];
  for (const [pattern, label, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(label)}`, () => {
      assert.equal(hostLabelMatches(pattern, label), expected);
    });
  }
});

describe('registryKeyMatchesImage', () => {
  const cases: Array<[string, string, boolean]> = [
    // The examples from the Kubernetes docs.
    ['*.kubernetes.io', 'abc.kubernetes.io/app', true],
    ['*.kubernetes.io', 'kubernetes.io/app', false],
    ['*.*.kubernetes.io', 'abc.kubernetes.io/app', false],
    ['*.*.kubernetes.io', 'a.b.kubernetes.io/app', true],
    ['prefix.*.io', 'prefix.kubernetes.io/app', true],
    ['*-good.kubernetes.io', 'prefix-good.kubernetes.io/app', true],
    ['*.my-registry.example/images', 'sub.my-registry.example/images/my-image', true],
    ['*.my-registry.example/images', 'a.sub.my-registry.example/images/my-image', false],
    ['*.my-registry.example/images', 'sub.my-registry.example/other/my-image', false],
    // Plain hosts and schemes.
    ['reg.example', 'reg.example/team/app:v1', true],
    ['https://reg.example', 'reg.example/app', true],
    ['http://reg.example/v2/', 'reg.example/app', true],
    ['reg.example', 'other.example/app', false],
    ['reg.example', 'sub.reg.example/app', false],
    // Ports must be equal; no port is not :443.
    ['reg.example:5000', 'reg.example:5000/app', true],
    ['reg.example:5000', 'reg.example/app', false],
    ['reg.example', 'reg.example:5000/app', false],
    ['reg.example:443', 'reg.example/app', false],
    ['reg.example', 'reg.example:443/app', false],
    ['reg.example:080', 'reg.example:80/app', false],
    ['reg.example:', 'reg.example/app', true],
    ['localhost:5000', 'localhost:5000/x', true],
    ['localhost', 'localhost/x', true],
    ['*', 'localhost/x', true],
    ['*', 'reg.example/x', false],
    ['*.*', 'reg.example/x', true],
    // Paths are plain string prefixes of the repository path.
    ['reg.example/team', 'reg.example/team/app', true],
    ['reg.example/team', 'reg.example/team-a/app', true],
    ['reg.example/team/', 'reg.example/team/app', true],
    ['reg.example/team/', 'reg.example/team-a/app', false],
    ['reg.example/team-a', 'reg.example/team/app', false],
    ['reg.example/v2/team', 'reg.example/team/app', true],
    ['reg.example/v2', 'reg.example/team/app', false],
    ['reg.example/v2', 'reg.example/v2app', true],
    ['reg.example:5000/team', 'reg.example:5000/team/app', true],
    // Docker Hub: images are normalised before matching.
    ['docker.io', 'nginx', true],
    ['docker.io/library', 'nginx', true],
    ['docker.io/nginx', 'nginx', false],
    ['docker.io/user', 'user/app', true],
    ['https://index.docker.io/v1/', 'nginx', false],
    ['*.io', 'nginx', true],
    ['*.docker.io', 'nginx', false],
    // IPv6: Go splits the port off `[::1]:5000`; without a port the label `[::1]` is a glob class.
    ['[::1]:5000', '[::1]:5000/app', true],
    ['[::1]:5000/v2/', '[::1]:5000/app', true],
    ['[::1]:5000', '[::1]:5001/app', false],
    ['[::1]', '[::1]/app', false],
    // Bracket classes matched only in kubelets built before Go 1.25.2; current ones ignore the key.
    ['reg[0-9].example', 'reg1.example/app', false],
    ['reg[!0-9].example', 'reg1.example/app', false],
    ['reg[0-9].example:5000', 'reg1.example:5000/app', false],
    // Go keeps case; so does the kubelet.
    ['REG.example', 'reg.example/app', false],
    ['reg.example', 'REG.EXAMPLE/app', false],
    // Keys the kubelet ignores match nothing.
    ['', 'nginx', false],
    ['reg example', 'reg.example/app', false],
    ['reg.example/%zz', 'reg.example/app', false],
    ['reg[^0-9].example', 'rega.example/app', false],
    ['reg?.example', 'rega.example/app', false],
  ];
  for (const [key, image, expected] of cases) {
    it(`${key || '""'} ${expected ? 'matches' : 'does not match'} ${image}`, () => {
      assert.equal(registryKeyMatchesImage(key, image), expected);
    });
  }

  it('accepts already normalised key and image', () => {
    assert.equal(registryKeyMatchesImage(normalizeRegistryKey('docker.io'), normalizeImage('nginx')), true);
  });

  it('rejects an invalid image with a UsageError', () => {
    assertUsageError(() => registryKeyMatchesImage('reg.example', 'reg.example/App'), /must be lowercase/);
  });
});

describe('matchingKeys', () => {
  const cases: Array<{ title: string; image: string; keys: string[]; expected: string[] }> = [
    {
      title: 'more specific paths come first',
      image: 'quay.io/coreos/etcd',
      keys: ['quay.io', 'quay.io/coreos', 'quay.io/coreos/etcd'],
      expected: ['quay.io/coreos/etcd', 'quay.io/coreos', 'quay.io'],
    },
    {
      title: 'order is reverse byte order of the normalised keys, not of the raw keys',
      image: 'reg.example/team/app',
      keys: ['https://reg.example/v2/team', '*.example', 'reg.example', 'http://reg.example/team/'],
      expected: ['http://reg.example/team/', 'https://reg.example/v2/team', 'reg.example', '*.example'],
    },
    {
      title: 'entries with the same normalised key keep their order',
      image: 'reg.example/app',
      keys: ['https://reg.example/v2/', 'reg.example', 'http://reg.example'],
      expected: ['https://reg.example/v2/', 'reg.example', 'http://reg.example'],
    },
    {
      title: 'keys that do not match or cannot be parsed are left out',
      image: 'reg.example:5000/app',
      keys: ['reg.example', 'reg.example:5000', 'other.example:5000', 'reg example', ''],
      expected: ['reg.example:5000'],
    },
    {
      title: 'Docker Hub fallback: index.docker.io when nothing matches',
      image: 'nginx',
      keys: ['https://index.docker.io/v1/', 'reg.example'],
      expected: ['https://index.docker.io/v1/'],
    },
    {
      title: 'Docker Hub fallback takes every spelling of index.docker.io',
      image: 'user/app:v1',
      keys: ['index.docker.io', 'https://index.docker.io/v1/', 'http://index.docker.io/v2/', 'index.docker.io/v1'],
      expected: ['index.docker.io', 'https://index.docker.io/v1/', 'http://index.docker.io/v2/'],
    },
    {
      title: 'Docker Hub fallback also for images written with index.docker.io',
      image: 'index.docker.io/library/nginx',
      keys: ['https://index.docker.io/v1/'],
      expected: ['https://index.docker.io/v1/'],
    },
    {
      title: 'no fallback once a key matches',
      image: 'nginx',
      keys: ['https://index.docker.io/v1/', 'docker.io'],
      expected: ['docker.io'],
    },
    {
      title: 'no fallback when a glob matches',
      image: 'nginx',
      keys: ['https://index.docker.io/v1/', '*.io'],
      expected: ['*.io'],
    },
    {
      title: 'no fallback for other registries',
      image: 'reg.example/app',
      keys: ['https://index.docker.io/v1/'],
      expected: [],
    },
    {
      title: 'no fallback for a port of Docker Hub',
      image: 'docker.io:5000/app',
      keys: ['https://index.docker.io/v1/'],
      expected: [],
    },
    {
      title: 'the kubelet also falls back for a first component without "." or ":" (localhost)',
      image: 'localhost/app',
      keys: ['https://index.docker.io/v1/', 'localhost:5000'],
      expected: ['https://index.docker.io/v1/'],
    },
    {
      title: 'no fallback to a key with a port or path',
      image: 'nginx',
      keys: ['index.docker.io:443', 'index.docker.io/library'],
      expected: [],
    },
    {
      title: 'duplicates are kept: the kubelet tries each entry',
      image: 'reg.example/app',
      keys: ['reg.example', 'reg.example'],
      expected: ['reg.example', 'reg.example'],
    },
    { title: 'no keys', image: 'nginx', keys: [], expected: [] },
  ];
  for (const { title, image, keys, expected } of cases) {
    it(title, () => {
      assert.deepEqual(matchingKeys(image, keys), expected);
    });
  }

  it('accepts a normalised image', () => {
    assert.deepEqual(matchingKeys(normalizeImage('nginx'), ['docker.io']), ['docker.io']);
  });

  it('rejects an invalid image with a UsageError', () => {
    assertUsageError(() => matchingKeys('', ['docker.io']), /empty/);
  });
});

describe('validateServerKey', () => {
  const accepted: Array<[string, string]> = [
    ['reg.example.com', 'reg.example.com'],
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['http://reg.example/v2/', 'reg.example'],
    ['docker.io', 'docker.io'],
    ['reg.example:5000', 'reg.example:5000'],
    ['reg.example:5000/team-a', 'reg.example:5000/team-a'],
    ['https://reg.example/v2/team/', 'reg.example/team/'],
    ['reg.example/team_a/sub.dir', 'reg.example/team_a/sub.dir'],
    ['*.corp.example', '*.corp.example'],
    ['*-good.kubernetes.io', '*-good.kubernetes.io'],
    ['*.dkr.ecr.*.amazonaws.com', '*.dkr.ecr.*.amazonaws.com'],
    ['localhost', 'localhost'],
    ['localhost:5000', 'localhost:5000'],
    ['10.0.0.1:5000', '10.0.0.1:5000'],
    ['[::1]:5000', '[::1]:5000'],
    ['https://[2001:db8::1]:443/v2/', '[2001:db8::1]:443'],
  ];
  for (const [server, key] of accepted) {
    it(`accepts ${server}`, () => {
      assert.equal(validateServerKey(server).key, key);
    });
  }

  const rejected: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['reg example', /whitespace/],
    [' reg.example', /whitespace/],
    ['reg.example\t', /whitespace/],
    ['ftp://reg.example', /https:\/\/ or http:\/\//],
    ['HTTPS://reg.example', /lowercase https:\/\//],
    ['user:pw@reg.example', /"@"/],
    [`reg.example/app@${SHA256}`, /"@"/],
    ['reg?.example', /query/],
    ['reg.example#x', /query or fragment/],
    ['reg[0-9].example', /"\[\.\.\.\]"/],
    ['[a-c]reg.example', /can parse/],
    ['[::1]', /needs a port/],
    ['::1', /can parse/],
    ['Reg.Example', /lowercase/],
    ['reg..example', /host name part ""/],
    ['.reg.example', /host name part ""/],
    ['bücher.example', /host name part "bücher"/],
    ['reg_x.example', /host name part "reg_x"/],
    ['reg.example:abc', /can parse/],
    ['reg.example:0', /1 to 65535/],
    ['reg.example:65536', /1 to 65535/],
    ['reg.example:', /port .* missing/],
    ['reg.example/v2', /\/v2\//],
    ['https://index.docker.io/v1', /\/v1 or \/v2/],
    ['reg.example/App', /lowercase letters/],
    ['reg.example/app:1.0', /no tag/],
    ['reg.example/a%20b', /repository path/],
    ['reg.example/%zz', /can parse/],
    ['https://', /no host name/],
    ['/team', /no host name/],
  ];
  for (const [server, message] of rejected) {
    it(`rejects ${JSON.stringify(server)}`, () => {
      assertUsageError(() => validateServerKey(server), message);
    });
  }

  it('says what a valid server looks like', () => {
    assertUsageError(() => validateServerKey(''), /expected host\[:port\]\[\/path\] such as reg\.example\.com/);
  });

  it('accepts every key it returns when given back', () => {
    for (const [server] of accepted) {
      assert.deepEqual(validateServerKey(validateServerKey(server).key), validateServerKey(server));
    }
  });
});

describe('shortLivedTokenRegistry', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', undefined, 'AWS ECR'],
    ['https://123456789012.dkr.ecr.eu-west-3.amazonaws.com/v2/', undefined, 'AWS ECR'],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', undefined, 'AWS ECR'],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', undefined, 'AWS ECR'],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com:443/team', 'AWS', 'AWS ECR'],
    ['12345.dkr.ecr.us-east-1.amazonaws.com', undefined, undefined],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example', undefined, undefined],
    ['gcr.io', undefined, 'Google Container Registry'],
    ['eu.gcr.io/project', undefined, 'Google Container Registry'],
    ['GCR.IO', undefined, 'Google Container Registry'],
    ['gcr.io', 'oauth2accesstoken', 'Google Container Registry'],
    ['gcr.io', '_json_key', undefined],
    ['us-docker.pkg.dev', '_json_key_base64', undefined],
    ['notgcr.io', undefined, undefined],
    ['europe-west1-docker.pkg.dev', undefined, 'Google Artifact Registry'],
    ['https://us-docker.pkg.dev/v2/', undefined, 'Google Artifact Registry'],
    ['docker.pkg.dev', undefined, undefined],
    ['myregistry.azurecr.io', undefined, 'Azure Container Registry'],
    ['MyRegistry.azurecr.io', '00000000-0000-0000-0000-000000000000', 'Azure Container Registry'],
    ['myregistry.azurecr.io', 'service-principal-id', undefined],
    ['azurecr.io', undefined, undefined],
    ['docker.io', undefined, undefined],
    ['https://index.docker.io/v1/', undefined, undefined],
    ['ghcr.io', undefined, undefined],
    ['quay.io', undefined, undefined],
    ['', undefined, undefined],
    ['not a host', undefined, undefined],
  ];
  for (const [server, username, expected] of cases) {
    it(`${JSON.stringify(server)}${username ? ` as ${username}` : ''} is ${expected ?? 'not flagged'}`, () => {
      assert.equal(shortLivedTokenRegistry(server, username), expected);
    });
  }
});

describe('sameRegistry', () => {
  const cases: Array<[string, string, boolean]> = [
    ['https://index.docker.io/v1/', 'index.docker.io', true],
    ['https://index.docker.io/v1/', 'docker.io', true],
    ['index.docker.io', 'docker.io', true],
    ['registry-1.docker.io', 'docker.io', true],
    ['DOCKER.IO', 'docker.io', true],
    ['reg.example', 'https://reg.example/v2/', true],
    ['reg.example/team-a', 'reg.example/team-b', true],
    ['http://reg.example:5000', 'reg.example:5000/x', true],
    ['[::1]:5000', 'https://[::1]:5000/v2/', true],
    ['reg.example', 'reg.example:443', false],
    ['reg.example:5000', 'reg.example:5001', false],
    ['reg.example', 'other.example', false],
    ['docker.io:5000', 'docker.io', false],
    ['*.example', 'reg.example', false],
    ['', '', false],
    ['reg example', 'reg example', false],
  ];
  for (const [a, b, expected] of cases) {
    it(`${JSON.stringify(a)} and ${JSON.stringify(b)} are ${expected ? 'the same' : 'different'}`, () => {
      assert.equal(sameRegistry(a, b), expected);
      assert.equal(sameRegistry(b, a), expected);
    });
  }
});
