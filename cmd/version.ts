// `kubectl pullsecret version`: the plugin's version and, unless --client, the API server's.
import type { Argv } from 'yargs';
import { apiCall, connect, requestJson } from '../lib/connect';
import { formatObject, type ObjectFormat } from '../lib/print';
import { pluginVersion } from '../lib/version';
import { connectOptionsFrom, withOutput, type ConnectionArgs } from './flags';

export const command = 'version';
export const describe = 'Print the plugin version and the Kubernetes API server version';

export const builder = (yargs: Argv) =>
  withOutput(yargs, ['json', 'yaml']).option('client', {
    type: 'boolean',
    describe: 'Print the plugin version only; do not contact the API server',
  });

interface VersionArgs extends ConnectionArgs {
  client?: boolean;
  output?: string;
}

export async function handler(args: VersionArgs): Promise<void> {
  const clientVersion = { gitVersion: pluginVersion, nodeVersion: process.version };
  let serverVersion: { gitVersion: string } | undefined;
  if (!args.client) {
    const connection = connect(connectOptionsFrom(args));
    serverVersion = await apiCall(connection, () => requestJson<{ gitVersion: string }>(connection, { path: '/version' }));
  }
  if (args.output) {
    process.stdout.write(formatObject({ clientVersion, ...(serverVersion ? { serverVersion } : {}) }, args.output as ObjectFormat));
    return;
  }
  process.stdout.write(`Client Version: ${clientVersion.gitVersion}\n`);
  if (serverVersion) process.stdout.write(`Server Version: ${serverVersion.gitVersion}\n`);
}
