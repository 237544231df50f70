// Certificates for the admission webhook: a CA the plugin makes for itself (its certificate is
// the webhook configuration's caBundle) and a serving certificate it issues and renews. Keys come
// from Node's crypto; node-forge only assembles and signs the X.509 structures, which Node cannot.
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type Forge from 'node-forge';

export interface KeyAndCertificate {
  /** PEM. */
  cert: string;
  /** PEM (PKCS#8). */
  key: string;
}

const DAY_MS = 86_400_000;

/**
 * node-forge, loaded when a certificate is made. sync imports this file through the webhook, and
 * the standalone executable keeps node-forge with the other large libraries, which load together
 * on first use: a static import would load them all at every sync.
 */
async function loadForge(): Promise<typeof Forge> {
  return (await import('node-forge')).default;
}

function newKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function baseCertificate(forge: typeof Forge, commonName: string, validityDays: number, publicPem: string): Forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // A positive 16-byte serial: the high bit cleared so DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  // A little backdating tolerates clock skew between this process and the API server.
  cert.validity.notBefore = new Date(Date.now() - 5 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + validityDays * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  return cert;
}

/** A self-signed CA. */
export async function generateCa(commonName: string, validityDays = 3650): Promise<KeyAndCertificate> {
  const forge = await loadForge();
  const keys = newKeyPair();
  const cert = baseCertificate(forge, commonName, validityDays, keys.publicPem);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privatePem };
}

/** A serving certificate for these DNS names and IP addresses, signed by the CA. */
export async function issueServingCertificate(ca: KeyAndCertificate, hosts: string[], validityDays = 90): Promise<KeyAndCertificate> {
  const forge = await loadForge();
  const keys = newKeyPair();
  const cert = baseCertificate(forge, hosts[0] ?? 'kubectl-pullsecret-webhook', validityDays, keys.publicPem);
  const caCert = forge.pki.certificateFromPem(ca.cert);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // type 2 = DNS name, 7 = IP address (RFC 5280 GeneralName).
    { name: 'subjectAltName', altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privatePem };
}

/**
 * Whether a serving certificate must be (re)issued: missing, not from this CA, not covering
 * every host, or expiring within `renewBeforeDays`.
 */
export function needsRenewal(serving: KeyAndCertificate | undefined, ca: KeyAndCertificate, hosts: string[], renewBeforeDays = 30, now = new Date()): boolean {
  if (!serving) return true;
  try {
    const cert = new X509Certificate(serving.cert);
    if (!cert.verify(new X509Certificate(ca.cert).publicKey)) return true;
    if (new Date(cert.validTo).getTime() - now.getTime() < renewBeforeDays * DAY_MS) return true;
    return !hosts.every((host) => (isIP(host) ? cert.checkIP(host) : cert.checkHost(host)) !== undefined);
  } catch {
    return true;
  }
}

/** When a certificate stops being valid. */
export function expiresAt(pem: string): Date {
  return new Date(new X509Certificate(pem).validTo);
}
