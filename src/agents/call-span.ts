// The `agent.call <agent>` span both callers (gRPC pool, A2A client) make: the same name and
// attributes whatever the protocol, so a trace reads the same for every Agent. The agent here is
// `namespace/name` (the callers' key); the span shows the name and the namespace apart.
import type { AgentCallRequest } from '../runtime/types.js';

export function agentCallSpanName(agent: string): string {
  return `agent.call ${agent.slice(agent.indexOf('/') + 1)}`;
}

export function agentCallAttributes(req: AgentCallRequest): Record<string, string> {
  const slash = req.agent.name.indexOf('/');
  return {
    ...(slash > 0 ? { 'k8s.namespace.name': req.agent.name.slice(0, slash) } : {}),
    'parallax.agent': req.agent.name.slice(slash + 1),
    'parallax.step': req.step,
    'parallax.pattern': req.patternName,
    'parallax.task.id': req.taskId,
  };
}

/** `host:port` (IPv6 in brackets) as the semantic conventions' server.address and server.port. */
export function serverAttributes(endpoint: string): Record<string, string | number> {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(endpoint);
  return m ? { 'server.address': m[1]!, 'server.port': Number(m[2]) } : { 'server.address': endpoint };
}
