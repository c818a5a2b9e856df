// The one place an Agent's spec.protocol decides how the operator talks to it: calls and health
// probes go to the gRPC AgentPool (protocol grpc, the default) or the A2AClient (protocol a2a).
import type { Agent } from '../api/types.js';
import type { AgentCallRequest, AgentCallResult, AgentCaller } from '../runtime/types.js';
import type { A2AClient } from './a2a.js';
import { DEFAULT_MAX_REPLY_BYTES, type AgentPool, type ProbeResult } from './pool.js';

/** Health and capabilities of one of an Agent's endpoints (the Agent controller's view). */
export interface AgentProber {
  /** `capabilities: false` asks only whether it is healthy (gRPC: no GetCapabilities; an A2A card is one request either way). */
  probe(agent: Agent, endpoint: string, timeoutMs: number, opts?: { capabilities?: boolean }): Promise<ProbeResult>;
}

export const isA2A = (agent: Agent | undefined): boolean => agent?.spec?.protocol === 'a2a';

/** The largest reply the operator accepts from an Agent (spec.maxReplyBytes, default 1 MiB). */
export const maxReplyBytes = (agent: Agent): number => agent.spec?.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;

export class AgentProtocols implements AgentCaller, AgentProber {
  constructor(
    readonly grpc: AgentPool,
    readonly a2a: A2AClient,
    /** The Agent a call names (`namespace/name`, as the Execution controller qualifies it). */
    private readonly lookup: (agentName: string) => Agent | undefined,
  ) {}

  call(req: AgentCallRequest): Promise<AgentCallResult> {
    return isA2A(this.lookup(req.agent.name)) ? this.a2a.call(req) : this.grpc.call(req);
  }

  forgetAgent(agent: string): void {
    this.grpc.forgetAgent(agent);
    this.a2a.forgetAgent(agent);
  }

  probe(agent: Agent, endpoint: string, timeoutMs: number, opts: { capabilities?: boolean } = {}): Promise<ProbeResult> {
    const name = `${agent.metadata.namespace}/${agent.metadata.name}`;
    return isA2A(agent) ? this.a2a.probe(endpoint, timeoutMs, name) : this.grpc.probe(endpoint, timeoutMs, name, maxReplyBytes(agent), opts.capabilities);
  }
}
