// The flags of `--verify` (list and add): defined once, turned into lib/verify's options here.
import type { Argv } from 'yargs';
import { parseRequestTimeout } from '../lib/connect';
import { UsageError } from '../lib/errors';
import { DEFAULT_VERIFY_TIMEOUT_MS, readRegistryCa, type VerifyOptions } from '../lib/verify';

export interface VerifyArgs {
  verify?: boolean;
  'verify-timeout'?: string;
  'insecure-registry'?: string[];
  'registry-ca'?: string;
}

export function withVerify<T>(yargs: Argv<T>, what: string) {
  return yargs.options({
    verify: { type: 'boolean', describe: `Log in to each registry with the credentials (registry API v2) and ${what}` },
    'verify-timeout': { type: 'string', describe: 'With --verify: how long one registry login may take (e.g. 5s, 1m)', default: `${DEFAULT_VERIFY_TIMEOUT_MS / 1000}s` },
    'insecure-registry': {
      type: 'string',
      array: true,
      describe: 'With --verify: HOST or HOST:PORT that may use plain HTTP or an unverified certificate (repeatable)',
    },
    'registry-ca': { type: 'string', describe: 'With --verify: PEM file of CA certificates to trust for registries' },
  });
}

/** The options for lib/verify, or undefined without --verify (its other flags then are an error). */
export function verifyOptionsFrom(args: VerifyArgs): VerifyOptions | undefined {
  if (!args.verify) {
    const stray = (['insecure-registry', 'registry-ca'] as const).find((flag) => args[flag] !== undefined);
    if (stray) throw new UsageError(`--${stray} only applies with --verify`);
    return undefined;
  }
  let timeoutMs: number | undefined;
  try {
    timeoutMs = parseRequestTimeout(args['verify-timeout']);
  } catch {
    timeoutMs = undefined;
  }
  if (timeoutMs === undefined) {
    throw new UsageError(`invalid --verify-timeout "${args['verify-timeout']}": use a duration above zero such as 5s or 1m`);
  }
  return {
    timeoutMs,
    insecureRegistries: args['insecure-registry'] ?? [],
    ...(args['registry-ca'] !== undefined ? { extraCa: readRegistryCa(args['registry-ca']) } : {}),
  };
}
