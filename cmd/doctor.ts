// `kubectl pullsecret doctor [POD | KIND/NAME]`: why can't this pod pull, and the command that fixes it.
import type { Argv } from 'yargs';
import { connect } from '../lib/connect';
import { diagnoseAll, formatDiagnoses, parseTarget, readForDoctor, summarize, verifyUsedLogins } from '../lib/doctor';
import { CliError } from '../lib/errors';
import { formatObject } from '../lib/print';
import { normalizeImage } from '../lib/registry';
import { connectOptionsFrom, scopeFrom, withAllNamespaces, withOutput, type ConnectionArgs } from './flags';
import { verifyOptionsFrom, withVerify, type VerifyArgs } from './verify-flags';

export const command = 'doctor [target]';
export const describe = 'Explain why pods cannot pull their images, and how to fix it';

export const builder = (yargs: Argv) =>
  withVerify(withOutput(withAllNamespaces(yargs), ['json', 'yaml']), 'call an image whose registry refuses them "rejected"')
    .positional('target', {
      type: 'string',
      describe: 'POD, or deployment/NAME, statefulset/NAME, daemonset/NAME, job/NAME, cronjob/NAME (default: every pod in ImagePullBackOff or ErrImagePull)',
    })
    .option('image', { type: 'string', describe: 'Check this image instead of the containers\' images' })
    .example([
      ['$0 doctor', 'Every pod in the namespace that cannot pull, with the command that fixes it'],
      ['$0 doctor -A', 'The same in every namespace'],
      ['$0 doctor deployment/web', 'The pod template of a Deployment and its pods'],
      ['$0 doctor deployment/web --image registry.example/web:2', 'Would its pods get credentials for a new image?'],
      ['$0 doctor pod/web-1 --verify', 'Also log in to the registry with the credentials the kubelet sends'],
    ]);

interface DoctorArgs extends ConnectionArgs, VerifyArgs {
  target?: string;
  image?: string;
  'all-namespaces'?: boolean;
  output?: string;
}

export async function handler(args: DoctorArgs): Promise<void> {
  const target = args.target !== undefined ? parseTarget(args.target) : undefined;
  // An invalid --image is a usage error before anything is read.
  if (args.image !== undefined) normalizeImage(args.image);
  const verifyOptions = verifyOptionsFrom(args);
  const connection = connect(connectOptionsFrom(args));
  const scope = scopeFrom(args, connection.namespace);
  const { subjects, input, onlyFailing } = await readForDoctor(connection, { target, scope, image: args.image });
  const options = { onlyFailing, ...(args.image !== undefined ? { image: args.image } : {}) };
  let diagnoses = diagnoseAll(subjects, input, options);
  if (verifyOptions) {
    // Which credentials are sent is known only after a first diagnosis; the logins refine it.
    const logins = await verifyUsedLogins(diagnoses, input, verifyOptions);
    diagnoses = diagnoseAll(subjects, input, { ...options, logins });
  }
  const summary = summarize(diagnoses);

  if (args.output === 'json' || args.output === 'yaml') {
    process.stdout.write(formatObject({ kind: 'PullSecretDiagnosisList', items: diagnoses, summary }, args.output));
  } else if (diagnoses.length === 0) {
    const where = 'namespace' in scope ? ` in ${scope.namespace} namespace` : '';
    process.stderr.write(`No pods in ImagePullBackOff or ErrImagePull${where}.\n`);
  } else {
    process.stdout.write(formatDiagnoses(diagnoses));
  }
  const notCovered = summary.images - summary.covered;
  if (notCovered > 0) {
    throw new CliError(`${notCovered} of ${summary.images} image${summary.images === 1 ? '' : 's'} checked ${notCovered === 1 ? 'is' : 'are'} not covered by a pull secret`);
  }
}
