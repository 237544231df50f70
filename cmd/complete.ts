// `kubectl-pullsecret __complete WORD...`: shell completion, in the protocol of kubectl's own
// (cobra) completion. kubectl >= 1.26 completes a plugin's arguments by running
// `kubectl_complete-pullsecret` with the words typed after the plugin name, the last one being the
// word under the cursor (possibly empty); the helper we ship calls this. The answer is one
// candidate per line (`value<TAB>description`), then `:<directive>`.
//
// Verbs and flags come from the verb modules themselves; namespaces, pull secrets,
// ServiceAccounts and pods from the cluster, with the connection flags already typed.
import type { Argv, Options } from 'yargs';
import type { Connection } from '../lib/connect';
import { connectOptionsFrom, connectionOptions, type ConnectionArgs } from './flags';
import type { Verb } from './main';

/** cobra's ShellCompDirective values that we use. */
export const Directive = {
  /** The shell may complete file names. */
  default: 0,
  /** An error occurred; the shell completes nothing. */
  error: 1,
  /** The candidates are all there is: no file-name completion. */
  noFileComp: 4,
} as const;

export interface Completion {
  candidates: string[];
  directive: number;
}

interface Flag {
  /** Long names first, then one-letter aliases. */
  names: string[];
  takesValue: boolean;
  describe: string;
  hidden: boolean;
  choices: string[];
}

interface VerbShape {
  flags: Flag[];
  positionals: string[];
}

/** A verb module's builder, as the modules export it. */
type Builder = ((yargs: Argv) => unknown) | Record<string, Options> | undefined;

function toFlag(name: string, spec: Options): Flag {
  const aliases = spec.alias === undefined ? [] : Array.isArray(spec.alias) ? spec.alias : [spec.alias];
  const names = [name, ...aliases].sort((a, b) => b.length - a.length);
  const takesValue = spec.type !== 'boolean' && spec.boolean !== true && spec.count !== true;
  const choices = spec.choices === undefined ? [] : (Array.isArray(spec.choices) ? spec.choices : [spec.choices]).map(String);
  return { names, takesValue, describe: typeof spec.describe === 'string' ? spec.describe : '', hidden: spec.hidden === true, choices };
}

/**
 * The flags and positionals a verb's builder declares, read by running it against a recorder
 * instead of yargs: every call is accepted and chained; option(s) and positional are kept.
 */
export function shapeOf(builder: Builder): VerbShape {
  const shape: VerbShape = { flags: [], positionals: [] };
  const record = (name: string, spec: Options = {}) => shape.flags.push(toFlag(name, spec));
  if (builder && typeof builder === 'object') {
    for (const [name, spec] of Object.entries(builder)) record(name, spec);
    return shape;
  }
  const recorder: Argv = new Proxy({} as Argv, {
    get: (_target, method) => (...args: unknown[]) => {
      if (method === 'option' || method === 'options') {
        if (typeof args[0] === 'string') record(args[0], args[1] as Options);
        else for (const [name, spec] of Object.entries(args[0] as Record<string, Options>)) record(name, spec);
      } else if (method === 'positional' && typeof args[0] === 'string') {
        shape.positionals.push(args[0]);
      }
      return recorder;
    },
  });
  builder?.(recorder);
  return shape;
}

const rootFlags: Flag[] = Object.entries(connectionOptions).map(([name, spec]) => toFlag(name, spec as Options));

function findFlag(flags: readonly Flag[], name: string): Flag | undefined {
  const bare = name.replace(/^--?/, '');
  return flags.find((f) => f.names.includes(bare) || (bare.startsWith('no-') && f.names.includes(bare.slice(3)) && !f.takesValue));
}

interface Scan {
  verb?: Verb;
  /** A word where the verb should be that names none: nothing to offer after it. */
  unknownVerb?: boolean;
  /** Positional arguments after the verb, excluding the word being completed. */
  positionals: string[];
  /** Flag values typed so far, by every name of their flag. */
  values: Record<string, string>;
  /** The flag whose value is being completed, if the previous word is one that takes a value. */
  pendingFlag?: Flag;
}

/** Walks the finished words like yargs would: flags, their values, the verb, positionals. */
async function scan(words: readonly string[], verbs: readonly Verb[]): Promise<{ scan: Scan; flags: Flag[]; shape?: VerbShape }> {
  const result: Scan = { positionals: [], values: {} };
  let flags = rootFlags;
  let shape: VerbShape | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') break;
    if (word.startsWith('-') && word !== '-') {
      const equals = word.indexOf('=');
      const short = /^-[^-]/.test(word);
      const name = equals > 0 ? word.slice(0, equals) : short ? word.slice(0, 2) : word;
      const flag = findFlag(flags, name);
      if (!flag?.takesValue) continue;
      const inline = equals > 0 ? word.slice(equals + 1) : short && word.length > 2 ? word.slice(2) : undefined;
      const value = inline ?? words[++i];
      if (value === undefined) {
        result.pendingFlag = flag;
        break;
      }
      for (const n of flag.names) result.values[n] = value;
      continue;
    }
    if (!result.verb) {
      result.verb = verbs.find((v) => v.names.includes(word));
      if (!result.verb) return { scan: { ...result, unknownVerb: true }, flags };
      shape = shapeOf((await result.verb.load()).builder as Builder);
      flags = [...rootFlags, ...shape.flags];
    } else {
      result.positionals.push(word);
    }
  }
  return { scan: result, flags, ...(shape ? { shape } : {}) };
}

function flagCandidates(flags: readonly Flag[], prefix: string): string[] {
  const candidates: string[] = [];
  for (const flag of flags) {
    if (flag.hidden) continue;
    for (const name of flag.names) {
      const typed = name.length === 1 ? `-${name}` : `--${name}`;
      if (typed.startsWith(prefix)) candidates.push(flag.describe ? `${typed}\t${flag.describe}` : typed);
    }
  }
  return candidates;
}

/** The connection the typed flags describe, with a short timeout: completion must not hang. */
async function connectFrom(values: Record<string, string>): Promise<Connection> {
  const { connect } = await import('../lib/connect');
  const args = { ...values, 'request-timeout': values['request-timeout'] ?? '5s' } as ConnectionArgs;
  return connect(connectOptionsFrom(args));
}

const names = (objects: { metadata?: { name?: string } }[]) => objects.map((o) => o.metadata?.name ?? '').filter(Boolean);

/** Candidate values for a flag, from the kubeconfig or the cluster. */
async function flagValues(flag: Flag, values: Record<string, string>): Promise<Completion> {
  const long = flag.names[0];
  if (flag.choices.length > 0) return { candidates: flag.choices, directive: Directive.noFileComp };
  if (long === 'kubeconfig' || long === 'from-docker-config') return { candidates: [], directive: Directive.default };
  if (long === 'context' || long === 'cluster' || long === 'user') {
    const { defaultEnvironment, kubeconfigFiles, mergeKubeconfigs } = await import('../lib/kubeconfig');
    const merged = mergeKubeconfigs(kubeconfigFiles({ kubeconfig: values.kubeconfig }, defaultEnvironment()));
    const entries = long === 'context' ? merged.contexts : long === 'cluster' ? merged.clusters : merged.users;
    return { candidates: entries.map((e) => e.name), directive: Directive.noFileComp };
  }
  const cluster = await import('../lib/cluster');
  if (long === 'namespace' || long === 'namespaces') {
    return { candidates: names(await cluster.listNamespaces(await connectFrom(values))), directive: Directive.noFileComp };
  }
  if (long === 'service-account') {
    const connection = await connectFrom(values);
    const serviceAccounts = await cluster.listServiceAccounts(connection, { namespace: connection.namespace });
    return { candidates: names(serviceAccounts), directive: Directive.noFileComp };
  }
  if (long === 'from-secret') {
    const secrets = await cluster.listPullSecrets(await connectFrom(values), { allNamespaces: true });
    return { candidates: secrets.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`), directive: Directive.noFileComp };
  }
  return { candidates: [], directive: Directive.noFileComp };
}

/** Candidates for the first positional of a verb: pull secrets for NAME, pods for doctor's target. */
async function positionalValues(positional: string, values: Record<string, string>): Promise<string[]> {
  const cluster = await import('../lib/cluster');
  const connection = await connectFrom(values);
  if (positional === 'name') return [...new Set(names(await cluster.listPullSecrets(connection, { namespace: connection.namespace })))];
  if (positional === 'target') return names(await cluster.listPods(connection, { namespace: connection.namespace }));
  return [];
}

function filtered(completion: Completion, prefix: string, valuePrefix = ''): Completion {
  const candidates = completion.candidates.filter((c) => c.startsWith(prefix)).map((c) => `${valuePrefix}${c}`);
  return { candidates, directive: completion.directive };
}

/** Flags whose value is a comma-separated list: complete the item after the last comma. */
const commaSeparated = new Set(['namespaces']);

async function valueCompletion(flag: Flag, values: Record<string, string>, typed: string, before = ''): Promise<Completion> {
  const comma = commaSeparated.has(flag.names[0]!) ? typed.lastIndexOf(',') + 1 : 0;
  return filtered(await flagValues(flag, values), typed.slice(comma), before + typed.slice(0, comma));
}

/** What to offer for the last word, given the words before it. */
export async function completeWords(words: readonly string[], verbs: readonly Verb[]): Promise<Completion> {
  const toComplete = words.at(-1) ?? '';
  const { scan: typed, flags, shape } = await scan(words.slice(0, -1), verbs);

  if (typed.unknownVerb) return { candidates: [], directive: Directive.noFileComp };
  if (typed.pendingFlag) return valueCompletion(typed.pendingFlag, typed.values, toComplete);
  if (toComplete.startsWith('-')) {
    const equals = toComplete.indexOf('=');
    if (equals > 0) {
      const flag = findFlag(flags, toComplete.slice(0, equals));
      if (!flag?.takesValue) return { candidates: [], directive: Directive.noFileComp };
      return valueCompletion(flag, typed.values, toComplete.slice(equals + 1), toComplete.slice(0, equals + 1));
    }
    return { candidates: flagCandidates(flags, toComplete), directive: Directive.noFileComp };
  }
  if (!typed.verb) {
    const modules = await Promise.all(verbs.map(async (verb) => ({ verb, module: await verb.load() })));
    const candidates = modules
      .filter(({ verb }) => verb.names[0]!.startsWith(toComplete))
      .map(({ verb, module }) => (typeof module.describe === 'string' ? `${verb.names[0]}\t${module.describe}` : verb.names[0]!));
    return { candidates, directive: Directive.noFileComp };
  }
  const positional = shape?.positionals[typed.positionals.length];
  if (!positional) return { candidates: [], directive: Directive.noFileComp };
  return filtered({ candidates: await positionalValues(positional, typed.values), directive: Directive.noFileComp }, toComplete);
}

/** Prints the completion of `words`; a failure (no cluster, no kubeconfig) completes nothing. */
export async function complete(words: readonly string[], verbs: readonly Verb[]): Promise<void> {
  let completion: Completion;
  try {
    completion = await completeWords(words.length === 0 ? [''] : words, verbs);
  } catch {
    completion = { candidates: [], directive: Directive.error };
  }
  process.stdout.write(completion.candidates.map((c) => `${c}\n`).join('') + `:${completion.directive}\n`);
}
