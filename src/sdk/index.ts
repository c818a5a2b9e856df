// Public surface of the Parallax agent SDK (`parallax-operator/sdk`).
export {
  ParallaxAgent,
  AgentError,
  InvalidReplyError,
  DEFAULT_CONFIDENCE,
  type AgentOptions,
  type AgentReply,
  type AnalyzeOutput,
  type AnalyzeReturn,
  type AnalyzeContext,
  type HealthReport,
  type HealthState,
  type ServeOptions,
  type ServeTLS,
} from './agent.js';
export { serveAgent, servingTLSFromEnv, type ServeAgentOptions, type ServingAgent } from './server.js';
export {
  loadProtocol,
  findProtoDir,
  encodeData,
  decodeData,
  toStruct,
  fromStruct,
  toTimestamp,
  fromTimestamp,
  joinHostPort,
  LOADER_OPTIONS,
  SERVICE_NAME,
  PROTO_FILE,
  DATA_WRAPPED_KEY,
  type AgentRequestMessage,
  type ConfidenceResultMessage,
  type CapabilitiesMessage,
  type HealthMessage,
  type HealthStatusName,
  type ConfidenceAgentClient,
  type ConfidenceProtocol,
  type StructMessage,
  type ValueMessage,
  type TimestampMessage,
} from './protocol.js';
export { CRITIQUE_KEY, ESCALATION_KEY, policyContext } from './policy-context.js';
export { findConfidenceMarker, taskText, textAnswer, type ConfidenceMarker, type TextAnswer } from './text-answer.js';
export { boundedFetch, HTTPStatusError, networkCode, oneLine, ResponseTooLargeError, type BoundedFetchOptions } from './http-peer.js';
