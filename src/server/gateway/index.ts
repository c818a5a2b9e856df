// The gateway (#27): every Pattern callable as one agent, over the OpenAI API and A2A, mounted on
// the one HTTP server so it shares its auth path (the caller's token, or an exchanged credential)
// and its limits.
import type { ServerExtension } from '../extension.js';
import { a2aGateway } from './a2a.js';
import { openAiGateway } from './openai.js';

/** The port `make run` suggests for a local gateway (`parallax server run`), next to the dashboard's. */
export const GATEWAY_PORT = 8091;

export interface GatewayOptions {
  /** Where to look for Patterns when a caller may not list them in every namespace. */
  namespaces: readonly string[];
  /** The origin clients reach the server at (behind an Ingress); unset: the request's own. */
  publicURL?: string;
}

export function gatewayExtensions(opts: GatewayOptions): ServerExtension[] {
  return [openAiGateway(opts.namespaces), a2aGateway(opts.publicURL)];
}
