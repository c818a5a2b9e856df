// Every Prometheus metric of the operator, in one registry served on /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'parallax_operator_' });

const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const evaluationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const confidenceBuckets = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export const metrics = {
  reconcileTotal: new Counter({
    name: 'parallax_reconcile_total',
    help: 'Reconciles by controller and result (success, error, requeue).',
    labelNames: ['controller', 'result'] as const,
    registers: [registry],
  }),
  reconcileDuration: new Histogram({
    name: 'parallax_reconcile_duration_seconds',
    help: 'Time spent in one reconcile.',
    labelNames: ['controller'] as const,
    buckets: durationBuckets,
    registers: [registry],
  }),
  workqueueDepth: new Gauge({
    name: 'parallax_workqueue_depth',
    help: 'Keys waiting in a controller workqueue.',
    labelNames: ['controller'] as const,
    registers: [registry],
  }),
  workqueueRetries: new Counter({
    name: 'parallax_workqueue_retries_total',
    help: 'Keys re-queued with backoff after an error.',
    labelNames: ['controller'] as const,
    registers: [registry],
  }),
  executionsTotal: new Counter({
    name: 'parallax_executions_total',
    help: 'Finished Executions by pattern and phase.',
    labelNames: ['namespace', 'pattern', 'phase'] as const,
    registers: [registry],
  }),
  executionDuration: new Histogram({
    name: 'parallax_execution_duration_seconds',
    help: 'Wall time of finished Executions.',
    labelNames: ['namespace', 'pattern'] as const,
    buckets: durationBuckets,
    registers: [registry],
  }),
  executionConfidence: new Histogram({
    name: 'parallax_execution_confidence',
    help: 'Result confidence of succeeded Executions.',
    labelNames: ['namespace', 'pattern'] as const,
    buckets: confidenceBuckets,
    registers: [registry],
  }),
  policyDecisions: new Counter({
    name: 'parallax_policy_decisions_total',
    help: 'Confidence policy decisions by pattern and action (accept, warn, retry, escalate, review, approve, reject, override, fail).',
    labelNames: ['namespace', 'pattern', 'action'] as const,
    registers: [registry],
  }),
  agentConfidence: new Histogram({
    name: 'parallax_agent_confidence',
    help: 'Confidence of the answers of finished Executions, by agent: claimed by the agent, and calibrated by its track record.',
    labelNames: ['namespace', 'agent', 'kind'] as const,
    buckets: confidenceBuckets,
    registers: [registry],
  }),
  agentCalibrationError: new Gauge({
    name: 'parallax_agent_calibration_error',
    help: "An Agent's expected calibration error (status.calibration.ece): how far its claimed confidence is from its observed accuracy.",
    labelNames: ['namespace', 'agent'] as const,
    registers: [registry],
  }),
  agentBrierScore: new Gauge({
    name: 'parallax_agent_brier_score',
    help: "An Agent's Brier score (status.calibration.brier).",
    labelNames: ['namespace', 'agent'] as const,
    registers: [registry],
  }),
  agentCalibrationSamples: new Gauge({
    name: 'parallax_agent_calibration_samples',
    help: "Outcomes in an Agent's track record (status.calibration.samples).",
    labelNames: ['namespace', 'agent'] as const,
    registers: [registry],
  }),
  feedbackTotal: new Counter({
    name: 'parallax_feedback_total',
    help: 'Feedback objects handled, by result (applied, invalid).',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  reviewsTotal: new Counter({
    name: 'parallax_reviews_total',
    help: 'Reviews handled, by result (applied, invalid).',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  agentCallDuration: new Histogram({
    name: 'parallax_agent_call_duration_seconds',
    help: 'Latency of Analyze calls by agent.',
    labelNames: ['namespace', 'agent'] as const,
    buckets: durationBuckets,
    registers: [registry],
  }),
  agentCallErrors: new Counter({
    name: 'parallax_agent_call_errors_total',
    help: 'Failed Analyze calls by agent and error kind.',
    labelNames: ['namespace', 'agent', 'code'] as const,
    registers: [registry],
  }),
  circuitBreakerState: new Gauge({
    name: 'parallax_agent_circuit_open',
    help: '1 while a circuit breaker of an Agent is open (the last one to change, per Agent).',
    labelNames: ['namespace', 'agent'] as const,
    registers: [registry],
  }),
  evaluationsTotal: new Counter({
    name: 'parallax_evaluations_total',
    help: 'Sandboxed evaluations (CEL, input schema) by result: ok, error, time, memory, queue, crash, cancelled, stopped.',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  evaluationDuration: new Histogram({
    name: 'parallax_evaluation_duration_seconds',
    help: 'Time of one sandboxed evaluation on its worker (not its wait in the queue), by result.',
    labelNames: ['result'] as const,
    buckets: evaluationBuckets,
    registers: [registry],
  }),
  evaluationWorkerRestarts: new Counter({
    name: 'parallax_evaluation_worker_restarts_total',
    help: 'Evaluation workers replaced, by reason: time or memory (a budget ran out), crash.',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  evaluationQueueDepth: new Gauge({
    name: 'parallax_evaluation_queue_depth',
    help: 'Evaluations waiting for a worker.',
    registers: [registry],
  }),
  executionsRunning: new Gauge({
    name: 'parallax_executions_running',
    help: 'Execution runs holding a slot of the run queue (docs/multi-tenancy.md#running-executions).',
    registers: [registry],
  }),
  executionsQueued: new Gauge({
    name: 'parallax_executions_queued',
    help: 'Executions waiting for a run slot: their namespace is at its cap, or all slots are taken.',
    registers: [registry],
  }),
  replyBudgetHeld: new Gauge({
    name: 'parallax_reply_budget_held_bytes',
    help: 'Bytes of agent replies running Executions hold or have reserved (docs/multi-tenancy.md).',
    registers: [registry],
  }),
  agentCallsInFlight: new Gauge({
    name: 'parallax_agent_calls_in_flight',
    help: 'Agent calls of running Executions in flight (each holding room in the reply budget).',
    registers: [registry],
  }),
  agentReplyRegrown: new Counter({
    name: 'parallax_agent_reply_regrown_total',
    help: 'Agent replies larger than their reservation, asked again under a larger receive limit (reply-budget.ts).',
    registers: [registry],
  }),
  replyBudgetWaiting: new Gauge({
    name: 'parallax_reply_budget_waiting_calls',
    help: 'Agent calls waiting for room in the reply budget.',
    registers: [registry],
  }),
  leader: new Gauge({
    name: 'parallax_leader',
    help: '1 while this replica holds the leader Lease.',
    registers: [registry],
  }),
};

/** Sharded replicas (src/sharding, docs/sharding.md). */
export const shardMetrics = {
  shardLease: new Gauge({
    name: 'parallax_shard_lease',
    help: '1 while this replica holds its own shard Lease (acts on the objects labelled for it).',
    registers: [registry],
  }),
  liveShards: new Gauge({
    name: 'parallax_shards_live',
    help: 'Shards whose Lease is current, as this replica sees them.',
    registers: [registry],
  }),
  objects: new Gauge({
    name: 'parallax_shard_objects',
    help: 'Objects in this replica\'s share (its label-selected cache), by resource.',
    labelNames: ['resource'] as const,
    registers: [registry],
  }),
  assignments: new Counter({
    name: 'parallax_shard_assignments_total',
    help: 'Label writes of the sharder, by action: assign (no owner or a dead one), drain (asks the owner to let go), ack (an owner let go).',
    labelNames: ['action'] as const,
    registers: [registry],
  }),
};

/** The admission webhook (src/webhook): requests by kind, operation and result, and their duration. */
export const webhookMetrics = {
  requests: new Counter({
    name: 'parallax_webhook_requests_total',
    help: 'Admission requests answered, by kind, operation and result (allowed, denied, error).',
    labelNames: ['kind', 'operation', 'result'] as const,
    registers: [registry],
  }),
  refusedRequests: new Counter({
    name: 'parallax_webhook_refused_requests_total',
    help: 'Requests the webhook server refused unread, by reason: too-large, busy (bytes held by all requests at the cap), aborted.',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  duration: new Histogram({
    name: 'parallax_webhook_request_duration_seconds',
    help: 'Time to answer one admission request.',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  }),
  certificateExpiry: new Gauge({
    name: 'parallax_webhook_certificate_expiry_timestamp_seconds',
    help: 'When the serving certificate in use expires (Unix time).',
    registers: [registry],
  }),
  rotations: new Counter({
    name: 'parallax_webhook_certificate_writes_total',
    help: 'Writes of the webhook certificate Secret by this replica, by what changed (created, ca-rotated, cert-issued, ca-pruned).',
    labelNames: ['change'] as const,
    registers: [registry],
  }),
};
