// The controller manager's flags, named and meant as in controller-runtime so that operators
// recognise them. Defaults are applied here rather than by yargs, so that a one-shot sync can
// tell that one was given where it has no effect.
import { UsageError } from '../lib/errors';
import {
  DEFAULT_LEADER_ELECTION_ID,
  HEALTH_PROBE_PORT,
  METRICS_PORT,
  defaultLeaderElectionNamespace,
  type ManagerOptions,
} from '../lib/controller/options';
import type { LogFormat } from '../lib/controller/log';
import { validateNamespaceName } from '../lib/names';

export const managerFlags = {
  'leader-elect': { type: 'boolean', describe: 'With --watch: only the holder of a Lease writes, so that several replicas can run (on in --print-manifests)' },
  'leader-election-namespace': { type: 'string', describe: "With --leader-elect: the Lease's namespace (default: the pod's own, else kubectl-pullsecret)" },
  'leader-election-id': { type: 'string', describe: `With --leader-elect: the Lease's name (default ${DEFAULT_LEADER_ELECTION_ID})` },
  'metrics-bind-address': { type: 'string', describe: `With --watch: where /metrics is served (default :${METRICS_PORT}; 0 turns it off)` },
  'health-probe-bind-address': { type: 'string', describe: `With --watch: where /healthz and /readyz are served (default :${HEALTH_PROBE_PORT}; 0 turns it off)` },
  'log-format': { type: 'string', choices: ['text', 'json'], describe: 'With --watch: one line of text, or one JSON object, per log entry (default text)' },
} as const;

export interface ManagerArgs {
  'leader-elect'?: boolean;
  'leader-election-namespace'?: string;
  'leader-election-id'?: string;
  'metrics-bind-address'?: string;
  'health-probe-bind-address'?: string;
  'log-format'?: string;
}

/** The settings, with defaults, and which of the flags were given. */
export function managerOptionsFrom(args: ManagerArgs): ManagerOptions & { given: string[] } {
  const given = Object.keys(managerFlags).filter((flag) => args[flag as keyof ManagerArgs] !== undefined).map((flag) => `--${flag}`);
  const id = args['leader-election-id'];
  if (id !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(id)) {
    throw new UsageError(`invalid --leader-election-id "${id}": a Lease name is lowercase letters, digits, '-' and '.'`);
  }
  if (!args['leader-elect'] && (args['leader-election-namespace'] !== undefined || id !== undefined)) {
    throw new UsageError('--leader-election-namespace and --leader-election-id go with --leader-elect');
  }
  return {
    leaderElect: Boolean(args['leader-elect']),
    leaderElectionNamespace: args['leader-election-namespace'] !== undefined ? validateNamespaceName(args['leader-election-namespace']) : defaultLeaderElectionNamespace(),
    leaderElectionId: id ?? DEFAULT_LEADER_ELECTION_ID,
    metricsBindAddress: args['metrics-bind-address'] ?? `:${METRICS_PORT}`,
    healthProbeBindAddress: args['health-probe-bind-address'] ?? `:${HEALTH_PROBE_PORT}`,
    logFormat: (args['log-format'] ?? 'text') as LogFormat,
    given,
  };
}
