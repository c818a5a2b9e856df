// The operator's side of the agent protocol: calling agents (AgentPool) and probing them.
export {
  AgentPool,
  probeAgent,
  type AgentTarget,
  type AgentResolver,
  type AgentPoolOptions,
  type RetryOptions,
  type ProbeResult,
  type ProbeHealth,
  type ProbeCapabilities,
} from './pool.js';
export { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './breaker.js';
