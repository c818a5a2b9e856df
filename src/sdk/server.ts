// Running an agent as a process: serve, and stop gracefully on SIGINT/SIGTERM.
import { join } from 'node:path';
import { startTracing } from '../observability/tracing.js';
import type { ParallaxAgent, ServeOptions, ServeTLS } from './agent.js';

export interface ServeAgentOptions extends ServeOptions {
  /** How long in-flight calls may finish after a signal before the server is forced down. Default 5000. */
  graceMs?: number;
  /** Called after the agent stopped because of a signal; default exits the process with code 0. */
  onSignalStop?: (signal: NodeJS.Signals) => void;
}

export interface ServingAgent {
  port: number;
  /** Stops the agent and removes the signal handlers. */
  stop(): Promise<void>;
}

/**
 * Serves the agent and installs SIGINT/SIGTERM handlers that shut it down gracefully. With the
 * OTEL_* variables set it exports its spans over OTLP (service.name: OTEL_SERVICE_NAME, else the
 * agent's id), continuing the operator's trace. Without opts.tls it serves the TLS the environment
 * names (servingTLSFromEnv), as an image Agent's pod with spec.tls.secretName does.
 */
export async function serveAgent(agent: ParallaxAgent, opts: ServeAgentOptions = {}): Promise<ServingAgent> {
  const traces = await startTracing(agent.id);
  const { port } = await agent.serve({ port: opts.port, host: opts.host, tls: opts.tls ?? servingTLSFromEnv() });
  const graceMs = opts.graceMs ?? 5000;
  const onSignalStop = opts.onSignalStop ?? (() => process.exit(0));
  let stopping: Promise<void> | undefined;
  const remove = () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
  const stop = () => {
    remove();
    stopping ??= agent.shutdown(graceMs).then(() => traces?.shutdown());
    return stopping;
  };
  const handler = (signal: NodeJS.Signals) => {
    void stop().then(() => onSignalStop(signal));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { port, stop };
}

/**
 * TLS named by the environment, as the operator sets it in an image Agent's pod (the Python SDK
 * reads the same variables): PARALLAX_AGENT_TLS_DIR holds tls.crt and tls.key (a mounted
 * kubernetes.io/tls Secret); PARALLAX_AGENT_TLS_CLIENT_CA names the CA that must sign callers'
 * client certificates. Neither set: plaintext.
 */
export function servingTLSFromEnv(env: NodeJS.ProcessEnv = process.env): ServeTLS | undefined {
  const dir = env.PARALLAX_AGENT_TLS_DIR;
  const clientCA = env.PARALLAX_AGENT_TLS_CLIENT_CA || undefined;
  if (!dir) {
    if (clientCA) throw new Error('PARALLAX_AGENT_TLS_CLIENT_CA is set without PARALLAX_AGENT_TLS_DIR: client certificates are asked for over TLS only');
    return undefined;
  }
  return { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), ...(clientCA ? { clientCAFile: clientCA } : {}) };
}
