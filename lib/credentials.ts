// Where `add` gets the registry credentials from: a login given on the command line (password
// from stdin or a no-echo prompt, never argv), a local docker/podman config (credential helpers
// resolved), or an existing pull secret. Each yields the exact content to write.
import {
  DOCKERCONFIGJSON_KEY,
  DOCKERCONFIGJSON_TYPE,
  buildDockerConfigJson,
  inspectPullSecret,
  parsePullSecretData,
  readDockerConfigFile,
  resolveCredentials,
  serializeDockerConfig,
  type DockerConfigJson,
} from './dockerconfig';
import { coreApi } from './client';
import type { Connection } from './connect';
import { readOrUndefined } from './cluster';
import { CliError, UsageError } from './errors';
import { validateServerKey } from './registry';

/** kubectl create secret docker-registry's default server. */
export const DEFAULT_SERVER = 'https://index.docker.io/v1/';

export type CredentialSource =
  | { kind: 'login'; server: string; username: string; password: string; email?: string }
  | { kind: 'docker-config'; path: string; registries: string[]; helperTimeoutMs?: number }
  | { kind: 'secret'; namespace: string; name: string };

export interface Credentials {
  /** The `.dockerconfigjson` content, exactly as it is written for a new secret. */
  content: string;
  config: DockerConfigJson;
  /** Where it came from, for messages (never the credentials themselves). */
  description: string;
}

function fromContent(content: string, description: string): Credentials {
  const parsed = parsePullSecretData(DOCKERCONFIGJSON_TYPE, { [DOCKERCONFIGJSON_KEY]: Buffer.from(content).toString('base64') });
  if (!parsed.ok) throw new CliError(`internal error: built content does not parse: ${parsed.reason}`);
  return { content, config: parsed.config, description };
}

export async function loadCredentials(source: CredentialSource, connection: Connection): Promise<Credentials> {
  switch (source.kind) {
    case 'login': {
      validateServerKey(source.server);
      if (source.username.includes(':')) {
        // Registries and the kubelet split "user:password" at the first colon: it would never work.
        throw new UsageError(`invalid --username "${source.username}": a registry user name cannot contain ":"`);
      }
      // Byte-identical to `kubectl create secret docker-registry` for the same input.
      const content = buildDockerConfigJson({
        server: source.server,
        username: source.username,
        password: source.password,
        ...(source.email ? { email: source.email } : {}),
      });
      return fromContent(content, `login for ${source.server}`);
    }
    case 'docker-config': {
      const local = await readDockerConfigFile(source.path);
      const resolved = await resolveCredentials(local, {
        registries: source.registries,
        ...(source.helperTimeoutMs !== undefined ? { helperTimeoutMs: source.helperTimeoutMs } : {}),
      });
      return fromContent(serializeDockerConfig(resolved), `docker config ${source.path}`);
    }
    case 'secret': {
      const { namespace, name } = source;
      const secret = await readOrUndefined(connection, () => coreApi(connection).readNamespacedSecret({ name, namespace }));
      if (!secret) throw new UsageError(`secret "${name}" not found in namespace "${namespace}" (from --from-secret)`);
      const inspection = inspectPullSecret(secret.type, secret.data);
      if (inspection.status !== 'ok') {
        throw new UsageError(`secret ${namespace}/${name} cannot be copied: it is ${inspection.status}${inspection.reason ? ` (${inspection.reason})` : ''}`);
      }
      const parsed = parsePullSecretData(secret.type, secret.data);
      if (!parsed.ok) throw new UsageError(`secret ${namespace}/${name} cannot be copied: ${parsed.reason}`);
      // A dockerconfigjson secret is copied byte for byte; a legacy dockercfg one is converted.
      const content = secret.type === DOCKERCONFIGJSON_TYPE
        ? Buffer.from(secret.data![DOCKERCONFIGJSON_KEY]!, 'base64').toString('utf8')
        : serializeDockerConfig(parsed.config);
      return fromContent(content, `secret ${namespace}/${name}`);
    }
  }
}

/** Reads a password piped on stdin; one trailing newline is dropped, as docker login does. */
export async function readPasswordFromStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('--password-stdin: the password read from stdin is empty');
  return password;
}

/** Asks for a password on the terminal without echoing it. */
export async function promptPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    throw new UsageError('no password given: pipe it to --password-stdin, or run in a terminal to be prompted');
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    const password = await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (text: string) => {
        for (const char of text) {
          if (char === '\r' || char === '\n' || char === '\u0004') {
            stdin.off('data', onData);
            return resolve(typed);
          }
          if (char === '\u0003') {
            stdin.off('data', onData);
            return reject(new CliError('interrupted'));
          }
          if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
          else typed += char;
        }
      };
      stdin.on('data', onData);
    });
    if (password === '') throw new UsageError('the password is empty');
    return password;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}
