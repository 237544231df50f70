// `kubectl pullsecret doctor [POD | KIND/NAME]`: why can't this pod pull, and the command that fixes it.
import type { Argv } from 'yargs';
import { connect } from '../lib/connect';
import { diagnoseAll, formatDiagnoses, parseTarget, readForDoctor, summarize } from '../lib/doctor';
import { CliError } from '../lib/errors';
import { formatObject } from '../lib/print';
import { normalizeImage } from '../lib/registry';
import { connectOptionsFrom, scopeFrom, withAllNamespaces, withOutput, type ConnectionArgs } from './flags';

export const command = 'doctor [target]';
export const describe = 'Explain why pods cannot pull their images, and how to fix it';

export const builder = (yargs: Argv) =>
  withOutput(withAllNamespaces(yargs), ['json', 'yaml'])
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
    ]);

interface DoctorArgs extends ConnectionArgs {
  target?: string;
  image?: string;
  'all-namespaces'?: boolean;
  output?: string;
}

export async function handler(args: DoctorArgs): Promise<void> {
  const target = args.target !== undefined ? parseTarget(args.target) : undefined;
  // An invalid --image is a usage error before anything is read.
  if (args.image !== undefined) normalizeImage(args.image);
  const connection = connect(connectOptionsFrom(args));
  const scope = scopeFrom(args, connection.namespace);
  const { subjects, input, onlyFailing } = await readForDoctor(connection, { target, scope, image: args.image });
  const diagnoses = diagnoseAll(subjects, input, { onlyFailing, ...(args.image !== undefined ? { image: args.image } : {}) });
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
