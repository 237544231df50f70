// What the controller needs from the local cluster to run as a Deployment on its node: a pod
// reaches the API server with its in-cluster config (the "kubernetes" Service's ClusterIP through
// kube-proxy, the ServiceAccount token and ca.crt); the API server reaches a pod behind a Service
// (webhooks resolved to the pod's address, --enable-aggregator-routing); and the audit log says
// who wrote which ServiceAccount.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { AdmissionregistrationV1Api, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node';
import { admin, adminKubeconfig, clusterDir, run, waitFor } from '../integration/harness';
import { addRegistryLogin, createScriptPod, deleteE2eNamespaces, e2eNamespace, podLog, podOutcome } from './node-harness';

const kc = new KubeConfig();
kc.loadFromFile(adminKubeconfig);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);

const caPem = readFileSync(path.join(clusterDir, 'pki', 'ca.crt'), 'utf8');
const apiPort = Number(readFileSync(path.join(clusterDir, 'api.port'), 'utf8'));
/** The "kubernetes" Service's ClusterIP and the host's address on the node's bridge. */
const SERVICE_IP = '10.0.0.1';
const NODE_GATEWAY = '10.88.0.1';

/** The kube-apiserver's command line as `cluster.sh` started it. */
function apiServerFlags(): string[] {
  return readFileSync(path.join(clusterDir, 'kube-apiserver.cmd'), 'utf8').split('\0').filter(Boolean);
}

describe('in-cluster: the node runs pods that talk to the API server and that it calls', () => {
  let namespace = '';
  const webhookName = `kps-e2e-in-cluster-${process.pid}`;
  before(async () => {
    namespace = await e2eNamespace('e2e-in-cluster');
    // Creates the pull secret and patches the default ServiceAccount, as the admin user.
    await addRegistryLogin(namespace);
  });
  after(async () => {
    await admission.deleteValidatingWebhookConfiguration({ name: webhookName }).catch(() => undefined);
    await deleteE2eNamespaces();
  });

  test('the "kubernetes" Service points at the API server on the bridge, with a certificate for its ClusterIP', async () => {
    const service = await admin.core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    assert.equal(service.spec?.clusterIP, SERVICE_IP);
    const endpoints = await admin.core.readNamespacedEndpoints({ name: 'kubernetes', namespace: 'default' });
    assert.deepEqual(endpoints.subsets?.map((s) => [s.addresses?.map((a) => a.ip), s.ports?.map((p) => p.port)]),
      [[[NODE_GATEWAY], [apiPort]]]);
    // What a pod's client checks: the certificate served is the cluster CA's, for the ClusterIP.
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1', port: apiPort, ca: caPem,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(SERVICE_IP, cert),
      }, () => {
        resolve(socket.getPeerX509Certificate()!);
        socket.end();
      });
      socket.on('error', reject);
    });
    assert.ok(served.checkIP(NODE_GATEWAY), 'the certificate names the bridge address too');
  });

  test('a pod reaches the API server at KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT with its ServiceAccount token', async () => {
    // The pod reaches the Service's port itself, then relays connections to it: busybox's own TLS
    // cannot talk to the API server (it offers no signature algorithm but SHA-1, which Go refuses
    // in TLS 1.2), so the TLS client is the test's, speaking through the pod as an in-cluster
    // client would: to KUBERNETES_SERVICE_HOST:PORT from the pod's network, checking the
    // certificate against the pod's ca.crt for that address, with the pod's token.
    const started = Date.now();
    await createScriptPod(namespace, 'relay', [
      'echo "service=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"',
      'busybox nc -w 5 "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT" </dev/null && echo "port reached"',
      'while true; do busybox nc -l -p 8443 -e busybox nc "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT"; done',
    ].join('\n'), { imagePullSecrets: ['regcred'], restartPolicy: 'Always' });
    const running = await podOutcome(namespace, { pod: 'relay' });
    assert.equal(running.state, 'Running', running.message);
    await waitFor('the pod to reach the Service port', async () => /^port reached$/m.test(await podLog(namespace, 'relay')), 15_000);
    const reached = Date.now() - started;
    const log = await podLog(namespace, 'relay');
    const [, host, port] = /^service=([\d.]+):(\d+)$/m.exec(log) ?? [];
    assert.equal(host, SERVICE_IP);
    assert.equal(port, '443');

    const mounted = async (file: string) => {
      const result = await run(['exec', '-n', namespace, 'relay', '--', 'cat', `/var/run/secrets/kubernetes.io/serviceaccount/${file}`], { command: 'kubectl' });
      assert.equal(result.code, 0, result.stderr);
      return result.stdout;
    };
    const token = await mounted('token');
    const podCa = await mounted('ca.crt');
    assert.equal(new X509Certificate(podCa).fingerprint256, new X509Certificate(caPem).fingerprint256, 'ca.crt is the cluster CA');
    const podIP = (await admin.core.readNamespacedPod({ name: 'relay', namespace })).status!.podIP!;
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = https.request({
        host: podIP, port: 8443, method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ca: podCa, checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host!, cert), timeout: 10_000,
      }, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: response.statusCode!, body: text }));
      });
      request.on('error', reject).on('timeout', () => request.destroy(new Error('no answer in 10 s')));
      request.end(body);
    });
    assert.equal(answer.status, 201, answer.body);
    const user = (JSON.parse(answer.body) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    assert.equal(user.username, `system:serviceaccount:${namespace}:default`);
    assert.ok(user.groups.includes('system:serviceaccounts'));
    console.log(`# pod created -> Service port reached from the pod in ${reached} ms`);
  });

  test('the API server calls a webhook behind a headless Service: resolved to the pod address', async () => {
    assert.ok(apiServerFlags().includes('--enable-aggregator-routing=true'));
    // A listener that prints what it is sent: the TLS ClientHello of the webhook call, which names
    // the Service (SNI hook.NAMESPACE.svc). A headless Service has no ClusterIP, so the API server
    // can only have dialled the endpoint from the Service's EndpointSlice.
    await createScriptPod(namespace, 'hook', 'while true; do busybox nc -l -p 8443 </dev/null; echo; echo "-- closed"; done', {
      imagePullSecrets: ['regcred'], labels: { app: 'hook' }, restartPolicy: 'Always',
    });
    const running = await podOutcome(namespace, { pod: 'hook' });
    assert.equal(running.state, 'Running', running.message);
    const podIP = (await admin.core.readNamespacedPod({ name: 'hook', namespace })).status?.podIP;
    assert.ok(podIP, 'the pod has an address');
    await admin.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'hook' },
        spec: { clusterIP: 'None', selector: { app: 'hook' }, ports: [{ name: 'https', port: 443, targetPort: 8443 }] },
      },
    });
    await waitFor('an EndpointSlice of Service hook with the pod address, ready', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: 'kubernetes.io/service-name=hook' });
      return slices.items.some((slice) => slice.endpoints.some((e) => e.addresses.includes(podIP!) && e.conditions?.ready));
    });

    await admission.createValidatingWebhookConfiguration({
      body: {
        metadata: { name: webhookName },
        webhooks: [{
          name: 'probe.kubectl-pullsecret.test',
          clientConfig: { service: { namespace, name: 'hook', port: 443, path: '/validate' } },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          objectSelector: { matchLabels: { probe: 'webhook' } },
          failurePolicy: 'Ignore',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 3,
        }],
      },
    });
    // The API server picks the configuration up a moment later: create until the pod is called.
    const sni = `hook.${namespace}.svc`;
    let probes = 0;
    await waitFor(`a webhook call to reach pod ${podIP}`, async () => {
      await admin.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `probe-${++probes}`, labels: { probe: 'webhook' } } } });
      return (await podLog(namespace, 'hook')).includes(sni);
    }, 30_000);
  });

  test('the audit log records the admin\'s ServiceAccount patch, and no reads', () => {
    const events = readFileSync(path.join(clusterDir, 'logs', 'audit.log'), 'utf8').split('\n').filter(Boolean)
      .map((line) => JSON.parse(line) as {
        verb: string; user: { username: string }; userAgent?: string; responseStatus?: { code: number };
        objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
      });
    const patch = events.find((e) => e.verb === 'patch' && e.objectRef?.resource === 'serviceaccounts' && !e.objectRef.subresource
      && e.objectRef.namespace === namespace && e.objectRef.name === 'default');
    assert.ok(patch, `no audit event for the patch of ServiceAccount ${namespace}/default`);
    assert.equal(patch.user.username, 'admin');
    assert.ok(patch.userAgent, 'the event has the client\'s user agent');
    assert.equal(patch.responseStatus?.code, 200);
    const secret = events.find((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets' && e.objectRef.namespace === namespace);
    assert.equal(secret?.user.username, 'admin', 'the pull secret\'s create is recorded');
    assert.deepEqual(events.filter((e) => ['get', 'list', 'watch'].includes(e.verb)), [], 'reads are not recorded');
  });
});
