// The controller's Prometheus metrics. A Registry of our own rather than prom-client's global one:
// nothing else in the bundle can register into it by accident, and tests can make as many as they
// like. Only the controller imports this module, and only through a dynamic import: one-shot verbs
// never load prom-client (tests/unit/controller-metrics.test.ts checks the import graph).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRICS_PREFIX = 'kubectl_pullsecret_';

export const WEBHOOK_OUTCOMES = ['mutated', 'unchanged', 'skipped', 'error'] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

export interface ControllerMetrics {
  registry: Registry;
  /** Writes to the API server: kind (secret, serviceaccount, ...) and result (done, unchanged, failed, ...). */
  writes: Counter<'kind' | 'result'>;
  /** Seconds one plan-and-apply pass took. */
  reconcileDuration: Histogram;
  /** Watches that ended and were started again, by resource (namespaces, secrets, ...). */
  watchRestarts: Counter<'resource'>;
  /** Namespaces waiting to be planned again. */
  queueDepth: Gauge;
  webhookRequests: Counter<'outcome'>;
  /** Seconds the webhook took to answer an AdmissionReview. */
  webhookLatency: Histogram;
  /** 1 while this replica holds the Lease (or runs without leader election), else 0. */
  leader: Gauge;
  /** Unix seconds of the webhook serving certificate's notAfter (lib/certs expiresAt(pem) / 1000). */
  certificateExpiry: Gauge;
  /** Events the recorder dropped because its queue was full. */
  eventsDropped: Counter;
}

export function createMetrics(): ControllerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const metrics: ControllerMetrics = {
    registry,
    writes: new Counter({
      name: `${METRICS_PREFIX}writes_total`,
      help: 'Writes to the API server by object kind and result.',
      labelNames: ['kind', 'result'] as const,
      registers,
    }),
    reconcileDuration: new Histogram({
      name: `${METRICS_PREFIX}reconcile_duration_seconds`,
      help: 'Time one reconcile (plan and apply) took.',
      // From a few namespaces (milliseconds) to a full pass over ten thousand (tens of seconds).
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    watchRestarts: new Counter({
      name: `${METRICS_PREFIX}watch_restarts_total`,
      help: 'Watches that ended and were started again, by resource.',
      labelNames: ['resource'] as const,
      registers,
    }),
    queueDepth: new Gauge({
      name: `${METRICS_PREFIX}queue_depth`,
      help: 'Namespaces waiting to be planned again.',
      registers,
    }),
    webhookRequests: new Counter({
      name: `${METRICS_PREFIX}webhook_requests_total`,
      help: 'Admission requests the webhook answered, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webhookLatency: new Histogram({
      name: `${METRICS_PREFIX}webhook_latency_seconds`,
      help: 'Time the webhook took to answer an admission request.',
      // The answer is computed from memory: sub-millisecond normally; the API server gives up at
      // the webhook's timeoutSeconds, so anything past a second or two is already a failure.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    leader: new Gauge({
      name: `${METRICS_PREFIX}leader`,
      help: '1 while this replica is the leader (runs the reconcile loop), else 0.',
      registers,
    }),
    certificateExpiry: new Gauge({
      name: `${METRICS_PREFIX}certificate_expiry_timestamp_seconds`,
      help: "Unix time at which the webhook's serving certificate expires.",
      registers,
    }),
    eventsDropped: new Counter({
      name: `${METRICS_PREFIX}events_dropped_total`,
      help: 'Kubernetes Events not sent because the recorder queue was full.',
      registers,
    }),
  };
  // Every outcome exists from the start at 0, so rate() and alerts work before the first one.
  for (const outcome of WEBHOOK_OUTCOMES) metrics.webhookRequests.inc({ outcome }, 0);
  metrics.leader.set(0);
  collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  return metrics;
}
