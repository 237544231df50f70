// The write floor again, from a bare Node.js client: the writes write-floor makes (one Secret POST
// per namespace, then one JSON patch per ServiceAccount attaching it), with nothing else: no
// reads, no retries, no planning, no output per object. It takes write-floor's flags and prints
// its JSON line, so the sync bench runs both the same way.
//
//	node scripts/bench/node-floor.mjs --kubeconfig FILE --namespaces FILE --secret FILE [--service-accounts a,b,c] [--concurrency 64]
//
// It sends what sync sends the way sync sends it (node:https over keep-alive HTTP/1.1
// connections, JSON), so that sync / node floor is what the plugin adds to its writes and
// node floor / floor what the runtime adds to them.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { load } from 'js-yaml';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
};

/** The current context's server and TLS material: the bench's kubeconfig names them as data or files. */
function connection(file) {
  const config = load(readFileSync(file, 'utf8'));
  const context = config.contexts.find((c) => c.name === config['current-context']).context;
  const cluster = config.clusters.find((c) => c.name === context.cluster).cluster;
  const user = config.users.find((u) => u.name === context.user).user;
  const material = (data, name) => (data ? Buffer.from(data, 'base64') : name ? readFileSync(path.resolve(path.dirname(file), name)) : undefined);
  const secureContext = createSecureContext({
    ca: material(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: material(user['client-certificate-data'], user['client-certificate']),
    key: material(user['client-key-data'], user['client-key']),
  });
  return { server: new URL(cluster.server), token: user.token, secureContext };
}

const started = performance.now();
const concurrency = Number(flag('concurrency', '64'));
const { server, token, secureContext } = connection(flag('kubeconfig'));
const namespaces = readFileSync(flag('namespaces'), 'utf8').split('\n').map((line) => line.trim()).filter(Boolean);
const secret = JSON.parse(readFileSync(flag('secret'), 'utf8'));
const serviceAccounts = flag('service-accounts', 'default').split(',');
const agent = new https.Agent({ secureContext, keepAlive: true, maxSockets: concurrency });
const patch = JSON.stringify([{ op: 'add', path: '/imagePullSecrets', value: [{ name: secret.metadata.name }] }]);

function send(method, requestPath, body, contentType) {
  const payload = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: server.hostname, port: server.port, path: requestPath, method, agent,
        headers: {
          Accept: 'application/json', 'User-Agent': 'node-floor', 'Content-Type': contentType, 'Content-Length': payload.length,
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          // Parsed as sync parses every answer.
          if (response.statusCode >= 200 && response.statusCode <= 299) resolve(JSON.parse(text));
          else reject(new Error(`${method} ${requestPath}: ${response.statusCode} ${text}`));
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

// A Secret's attaches are queued once it exists, as in write-floor; every worker takes whatever
// write is next, and waits while the queue is empty but a Secret in flight may still add to it.
const queue = namespaces.map((namespace) => ({ namespace }));
let next = 0;
let inFlight = 0;
let posts = 0;
let patches = 0;
let errors = 0;
const waiting = [];
const wake = () => waiting.splice(0).forEach((resolve) => resolve());
const query = '?fieldManager=kubectl-pullsecret';
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (;;) {
      if (next === queue.length) {
        if (inFlight === 0) return wake();
        await new Promise((resolve) => waiting.push(resolve));
        continue;
      }
      const write = queue[next++];
      const base = `/api/v1/namespaces/${encodeURIComponent(write.namespace)}`;
      inFlight++;
      try {
        if (write.serviceAccount === undefined) {
          posts++;
          await send('POST', `${base}/secrets${query}`, JSON.stringify({ ...secret, metadata: { ...secret.metadata, namespace: write.namespace } }), 'application/json');
          for (const name of serviceAccounts) queue.push({ namespace: write.namespace, serviceAccount: name });
        } else {
          patches++;
          await send('PATCH', `${base}/serviceaccounts/${encodeURIComponent(write.serviceAccount)}${query}`, patch, 'application/json-patch+json');
        }
      } catch (error) {
        errors++;
        process.stderr.write(`node-floor: ${error.message}\n`);
      } finally {
        inFlight--;
        wake();
      }
    }
  }),
);
process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, posts, patches, errors })}\n`);
agent.destroy();
