// The generated Kubernetes client (@kubernetes/client-node), for the verbs that write and for the
// credentials only its code handles. Importing this module loads the whole client, so the read
// paths (lib/connect's requestJson) never do; `list` starts without it.
import { CoreV1Api, KubeConfig, ServerConfiguration, createConfiguration, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { keepAliveAgents, type Connection } from './connect';
import type { ResolvedConfig } from './kubeconfig';

const kubeConfigs = new WeakMap<ResolvedConfig, KubeConfig>();

/** A KubeConfig holding exactly the resolved context as its current one. */
export function kubeConfigOf(config: ResolvedConfig): KubeConfig {
  let kubeConfig = kubeConfigs.get(config);
  if (!kubeConfig) {
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [config.cluster],
      users: [config.user],
      contexts: [{ name: config.contextName, cluster: config.cluster.name, user: config.user.name }],
      currentContext: config.contextName,
    });
    kubeConfigs.set(config, kubeConfig);
  }
  return kubeConfig;
}

type ApiClass<T> = new (configuration: ReturnType<typeof createConfiguration>) => T;

/** A generated API client for the connection, honouring --request-timeout, on keep-alive connections. */
export function makeClient<T>(connection: Pick<Connection, 'config' | 'requestTimeoutMs'>, api: ApiClass<T>): T {
  const { config, requestTimeoutMs } = connection;
  const agents = keepAliveAgents();
  const perRequest = {
    pre: async (context: RequestContext) => {
      // Each request gets its own deadline, so a slow or silent server fails within the timeout.
      if (requestTimeoutMs !== undefined) context.setSignal(AbortSignal.timeout(requestTimeoutMs));
      const agent = agents.replace(context.getAgent());
      if (agent) context.setAgent(agent);
      return context;
    },
    post: async (response: ResponseContext) => response,
  };
  return new api(
    createConfiguration({
      baseServer: new ServerConfiguration(config.server.replace(/\/+$/, ''), {}),
      authMethods: { default: kubeConfigOf(config) },
      promiseMiddleware: [perRequest],
    }),
  );
}

const coreClients = new WeakMap<object, CoreV1Api>();

/** The connection's core/v1 client (one per connection). */
export function coreApi(connection: Connection): CoreV1Api {
  let client = coreClients.get(connection);
  if (!client) coreClients.set(connection, (client = makeClient(connection, CoreV1Api)));
  return client;
}
