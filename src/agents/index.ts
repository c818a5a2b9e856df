// The operator's side of the agent protocols: calling agents (AgentPool for gRPC, A2AClient for A2A,
// AgentProtocols choosing between them per Agent) and probing them.
export {
  AgentPool,
  DEFAULT_MAX_REPLY_BYTES,
  probeAgent,
  type AgentTarget,
  type AgentResolver,
  type AgentPoolOptions,
  type RetryOptions,
  type ProbeResult,
  type ProbeHealth,
  type ProbeCapabilities,
} from './pool.js';
export { A2AClient, type A2AClientOptions, type A2AResolver, type A2ATarget } from './a2a.js';
export { a2aURLProblem, dialURL } from './a2a-url.js';
export { CREDENTIALS_LABEL, secretBearerTokens, type BearerTokens } from './a2a-credentials.js';
export { AgentProtocols, isA2A, maxReplyBytes, type AgentProber } from './protocols.js';
export { EndpointPolicy, endpointIP, type EndpointPolicyOptions } from './endpoint-policy.js';
export { AgentTLS, tlsErrorCode, tlsProblem, type AgentTLSOptions, type AgentTransport } from './agent-tls.js';
export { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './breaker.js';
