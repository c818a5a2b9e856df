// The LLM agent's configuration, read from its environment (an Agent's spec.env). Every mistake is
// reported with the variable's name and what it should be; the API key is never part of a message.

export const MARKER_INSTRUCTION =
  'End your reply with one line of the form "CONFIDENCE: x", where x is a number between 0 and 1: ' +
  'the probability that your answer is correct.';

export const DEFAULT_SYSTEM_PROMPT =
  'You are one of several independent experts asked the same task. Answer it as well as you can, concisely. ' +
  'When the task asks for a structured answer, give it as a JSON object in a ```json block.';

export interface LLMConfig {
  /** Agent id and name (PARALLAX_AGENT_NAME, set by the operator). */
  name: string;
  host: string;
  port: number;
  /** OpenAI-compatible API root, e.g. http://vllm:8000/v1. */
  baseURL: string;
  model: string;
  /** From a Secret; undefined for servers without authentication. */
  apiKey?: string;
  /** The system prompt, with the CONFIDENCE instruction appended unless it mentions the marker itself. */
  systemPrompt: string;
  temperature?: number;
  maxTokens?: number;
  /** Ask the server for token log-probabilities. */
  logprobs: boolean;
  /** Confidence when the model gives neither log-probabilities nor a marker. */
  defaultConfidence: number;
  /** Attempts of one chat completion (only refused connections, 429 and 503 are tried again). */
  maxAttempts: number;
  /** Reported in GetCapabilities. */
  capabilities: string[];
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

export function readConfig(env: Env): LLMConfig {
  const problems: string[] = [];
  const required = (name: string, what: string): string => {
    const v = env[name]?.trim();
    if (!v) problems.push(`${name} is not set: ${what}`);
    return v ?? '';
  };
  const number = (name: string, min: number, max: number, integer = false): number | undefined => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      problems.push(`${name} is ${JSON.stringify(raw)}: want ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
      return undefined;
    }
    return n;
  };

  const baseURL = required('LLM_BASE_URL', 'the OpenAI-compatible API root, e.g. http://vllm.models:8000/v1');
  if (baseURL) {
    try {
      const u = new URL(baseURL);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`LLM_BASE_URL must be an http or https URL, not ${u.protocol}`);
      if (u.username || u.password) problems.push('LLM_BASE_URL must not carry credentials; put the key in a Secret and set LLM_API_KEY from it');
    } catch {
      problems.push(`LLM_BASE_URL ${JSON.stringify(baseURL)} is not a URL`);
    }
  }
  const model = required('LLM_MODEL', 'the model name the server knows, e.g. Qwen/Qwen2.5-7B-Instruct');
  const logprobs = env.LLM_LOGPROBS?.trim().toLowerCase() ?? 'true';
  if (logprobs !== 'true' && logprobs !== 'false') problems.push(`LLM_LOGPROBS is ${JSON.stringify(env.LLM_LOGPROBS)}: want true or false`);
  const port = number('PARALLAX_AGENT_PORT', 0, 65535, true);
  const config: LLMConfig = {
    name: env.PARALLAX_AGENT_NAME?.trim() || 'llm-agent',
    host: env.PARALLAX_AGENT_HOST?.trim() || '0.0.0.0',
    port: port ?? 50051,
    baseURL,
    model,
    apiKey: env.LLM_API_KEY || undefined,
    systemPrompt: withMarkerInstruction(env.LLM_SYSTEM_PROMPT?.trim() || DEFAULT_SYSTEM_PROMPT),
    temperature: number('LLM_TEMPERATURE', 0, 2),
    maxTokens: number('LLM_MAX_TOKENS', 1, 1_000_000, true),
    logprobs: logprobs !== 'false',
    defaultConfidence: number('LLM_DEFAULT_CONFIDENCE', 0, 1) ?? 0.5,
    maxAttempts: number('LLM_MAX_ATTEMPTS', 1, 10, true) ?? 3,
    capabilities: (env.LLM_CAPABILITIES ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  };
  if (problems.length) throw new ConfigError(`LLM agent configuration: ${problems.join('; ')}`);
  return config;
}

/** The prompt, asking for the CONFIDENCE marker unless it already does. */
export function withMarkerInstruction(prompt: string): string {
  return /CONFIDENCE\s*:/.test(prompt) ? prompt : `${prompt}\n\n${MARKER_INSTRUCTION}`;
}
