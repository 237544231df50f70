// Kubernetes object-name rules, checked before anything is sent so that bad input gets a
// one-line usage error instead of a server-side validation message.
import { UsageError } from './errors';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function check(kind: string, name: string, pattern: RegExp, max: number, rule: string): string {
  if (name === '') throw new UsageError(`${kind} name is empty`);
  if (name.length > max) throw new UsageError(`invalid ${kind} name "${name}": must be at most ${max} characters`);
  if (!pattern.test(name)) throw new UsageError(`invalid ${kind} name "${name}": ${rule}`);
  return name;
}

const subdomainRule = 'use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit';
const labelRule = 'use lowercase letters, digits and "-", starting and ending with a letter or digit';

export const validateSecretName = (name: string) => check('secret', name, DNS_SUBDOMAIN, 253, subdomainRule);
export const validateServiceAccountName = (name: string) => check('serviceaccount', name, DNS_SUBDOMAIN, 253, subdomainRule);
export const validateNamespaceName = (name: string) => check('namespace', name, DNS_LABEL, 63, labelRule);

/** `NAMESPACE/NAME`, as in --from-secret. */
export function parseNamespacedName(value: string, flag: string): { namespace: string; name: string } {
  const parts = value.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new UsageError(`invalid ${flag} "${value}": expected NAMESPACE/NAME`);
  }
  return { namespace: validateNamespaceName(parts[0]), name: validateSecretName(parts[1]) };
}
