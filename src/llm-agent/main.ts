// The LLM agent's entry point (`node dist/src/llm-agent/main.js`, in the agents image): reads its
// configuration from the environment (see docs/llm-and-a2a.md), serves ConfidenceAgent on
// PARALLAX_AGENT_HOST:PARALLAX_AGENT_PORT and prints `READY <host>:<port>`. The API key is taken out
// of process.env once read, so nothing this process starts or dumps carries it.
import { joinHostPort, serveAgent } from '../sdk/index.js';
import { LLMAgent } from './agent.js';
import { ConfigError, readConfig } from './config.js';

try {
  const config = readConfig(process.env);
  delete process.env.LLM_API_KEY;
  const agent = new LLMAgent(config);
  const { port } = await serveAgent(agent, { host: config.host, port: config.port });
  process.stdout.write(`READY ${joinHostPort(config.host, port)}\n`);
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `LLM agent failed to start: ${(err as Error).message}`}\n`);
  process.exit(2);
}
