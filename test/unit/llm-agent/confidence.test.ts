// The LLM agent's pure parts: where confidence comes from (logprobs formula, marker, default),
// its configuration, and redaction of the API key.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { LOGPROBS_FORMULA, logprobConfidence, readAnswer } from '../../../src/llm-agent/confidence.js';
import { DEFAULT_SYSTEM_PROMPT, MARKER_INSTRUCTION, readConfig, withMarkerInstruction } from '../../../src/llm-agent/config.js';
import { redact, shownURL } from '../../../src/llm-agent/upstream.js';
import { servingTLSFromEnv } from '../../../src/sdk/server.js';
import { ROOT } from '../packaging/tools.js';

const tok = (token: string, p: number) => ({ token, logprob: Math.log(p) });

describe('logprobConfidence: exp(mean(logprob)), the geometric mean token probability', () => {
  it('of two tokens 0.9 and 0.4 is 0.6, the lowest 0.4', () => {
    const r = logprobConfidence([tok('appr', 0.9), tok('ove', 0.4)]);
    expect(r?.confidence).toBeCloseTo(0.6, 10);
    expect(r?.min).toBeCloseTo(0.4, 10);
    expect(r?.count).toBe(2);
  });

  it('counts only the tokens before the marker', () => {
    const tokens = [tok('yes', 0.81), tok('\n', 1), tok('CONF', 0.01), tok('IDENCE: 0.9', 0.01)];
    expect(logprobConfidence(tokens, 4)?.confidence).toBeCloseTo(0.9, 10);
  });

  it('a token far outside the top choices (-9999, or no number) counts as ~0; no tokens → undefined', () => {
    expect(logprobConfidence([{ token: 'a', logprob: -9999 }])?.confidence).toBe(0);
    expect(logprobConfidence([{ token: 'a', logprob: Number.NaN }])?.confidence).toBe(0);
    expect(logprobConfidence([])).toBeUndefined();
    expect(logprobConfidence([tok('C', 0.5)], 0)).toBeUndefined();
  });
});

describe('readAnswer: logprobs, else the marker, else the default (flagged)', () => {
  it('logprobs win, and the model’s own marker is kept beside them for comparison', () => {
    const r = readAnswer('approve\nCONFIDENCE: 0.95', [tok('appr', 0.9), tok('ove', 0.4), tok('\n', 1), tok('CONFIDENCE: 0.95', 0.5)], 0.5);
    expect(r.source).toBe('logprobs');
    expect(r.value).toBe('approve');
    // Tokens before the marker: 'appr', 'ove', '\n' → (0.9 * 0.4 * 1)^(1/3)
    expect(r.confidence).toBeCloseTo(Math.cbrt(0.36), 10);
    expect(r.metadata).toEqual({
      'confidence.source': 'logprobs',
      'confidence.formula': LOGPROBS_FORMULA,
      'confidence.tokens': '3',
      'confidence.min_token_probability': String(Math.exp(Math.log(0.4))),
      'confidence.marker': '0.95',
    });
    expect(r.uncertainties).toEqual([]);
  });

  it('without logprobs, the last marker, clamped', () => {
    const r = readAnswer('{"recommendation":"approve"}\nCONFIDENCE: 0.3\nactually CONFIDENCE: 1.2', undefined, 0.5);
    expect(r).toMatchObject({ source: 'marker', confidence: 1, metadata: { 'confidence.source': 'marker', 'confidence.marker': '1.2' } });
    expect(r.value).toBe('{"recommendation":"approve"}\nCONFIDENCE: 0.3\nactually');
  });

  it('a JSON block is the value and the prose around it the reasoning', () => {
    const r = readAnswer('Looks safe.\n```json\n{"recommendation": "approve"}\n```\nCONFIDENCE: 0.7', [], 0.5);
    expect(r).toMatchObject({ source: 'marker', value: { recommendation: 'approve' }, reasoning: 'Looks safe.', confidence: 0.7 });
  });

  it('neither: the configured default, said so in metadata and uncertainties', () => {
    const r = readAnswer('approve', undefined, 0.4);
    expect(r).toMatchObject({ source: 'default', confidence: 0.4, value: 'approve', metadata: { 'confidence.source': 'default' } });
    expect(r.uncertainties).toEqual(['confidence 0.4 is the configured default: the server gave no logprobs and the model no CONFIDENCE: marker']);
  });
});

describe('readConfig', () => {
  const env = { LLM_BASE_URL: 'http://vllm:8000/v1', LLM_MODEL: 'qwen', PARALLAX_AGENT_NAME: 'judge-1', PARALLAX_AGENT_PORT: '50051' };

  it('reads the defaults and the marker instruction', () => {
    expect(readConfig(env)).toEqual({
      name: 'judge-1', host: '0.0.0.0', port: 50051, baseURL: 'http://vllm:8000/v1', model: 'qwen', apiKey: undefined,
      systemPrompt: `${DEFAULT_SYSTEM_PROMPT}\n\n${MARKER_INSTRUCTION}`, temperature: undefined, maxTokens: undefined,
      logprobs: true, defaultConfidence: 0.5, maxAttempts: 3, capabilities: [],
    });
  });

  it('reads every setting', () => {
    const c = readConfig({
      ...env, LLM_API_KEY: 'sk-1', LLM_SYSTEM_PROMPT: 'Judge. Say CONFIDENCE: x.', LLM_TEMPERATURE: '0.2', LLM_MAX_TOKENS: '256',
      LLM_LOGPROBS: 'false', LLM_DEFAULT_CONFIDENCE: '0.3', LLM_MAX_ATTEMPTS: '1', LLM_CAPABILITIES: 'review, vote', PARALLAX_AGENT_HOST: '127.0.0.9',
    });
    expect(c).toMatchObject({ apiKey: 'sk-1', systemPrompt: 'Judge. Say CONFIDENCE: x.', temperature: 0.2, maxTokens: 256, logprobs: false, defaultConfidence: 0.3, maxAttempts: 1, capabilities: ['review', 'vote'], host: '127.0.0.9' });
  });

  it('names every bad variable at once, and never the key', () => {
    expect(() => readConfig({ LLM_BASE_URL: 'http://u:sk-secret@vllm/v1', LLM_TEMPERATURE: 'hot', LLM_MAX_TOKENS: '1.5', LLM_LOGPROBS: 'yes', LLM_API_KEY: 'sk-secret' })).toThrow(
      'LLM agent configuration: LLM_BASE_URL must not carry credentials; put the key in a Secret and set LLM_API_KEY from it; ' +
        'LLM_MODEL is not set: the model name the server knows, e.g. Qwen/Qwen2.5-7B-Instruct; LLM_LOGPROBS is "yes": want true or false; ' +
        'LLM_TEMPERATURE is "hot": want a number from 0 to 2; LLM_MAX_TOKENS is "1.5": want an integer from 1 to 1000000',
    );
    expect(() => readConfig({})).toThrow(/LLM_BASE_URL is not set: the OpenAI-compatible API root/);
    expect(() => readConfig({ ...env, LLM_BASE_URL: 'ftp://x' })).toThrow('LLM_BASE_URL must be an http or https URL, not ftp:');
  });

  it('docs/llm-and-a2a.md documents exactly the variables it reads (its own, and the TLS ones serveAgent reads)', () => {
    const read = new Set<string>();
    const watched = new Proxy({ ...env }, { get: (t, k: string) => (read.add(k), t[k as keyof typeof t]) });
    readConfig(watched);
    servingTLSFromEnv(watched);
    const doc = readFileSync(join(ROOT, 'docs/llm-and-a2a.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| variable | meaning |'), doc.indexOf('**What it sends.**'));
    const documented = [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([A-Z_]+)`/g)].map((x) => x[1]));
    expect(documented.sort()).toEqual([...read].sort());
  });

  it('a prompt that asks for the marker itself is left alone', () => {
    expect(withMarkerInstruction('Vote. End with CONFIDENCE: x')).toBe('Vote. End with CONFIDENCE: x');
    expect(withMarkerInstruction('Vote.')).toBe(`Vote.\n\n${MARKER_INSTRUCTION}`);
  });
});

describe('redact', () => {
  const key = 'sk-proj-A1b2C3d4E5f6G7h8';
  it.each([
    [`Incorrect API key provided: ${key}`, 'Incorrect API key provided: [redacted]'],
    ['Incorrect API key provided: sk-proj-********************G7h8', 'Incorrect API key provided: [redacted]********************G7h8'],
    [`key=${key.slice(4, 14)}…`, 'key=[redacted]…'],
    ['nothing secret here', 'nothing secret here'],
  ])('%p → %p', (text, shown) => {
    expect(redact(text, key)).toBe(shown);
  });

  it('without a key there is nothing to redact; URLs are shown without credentials or query', () => {
    expect(redact('anything', undefined)).toBe('anything');
    expect(shownURL('https://u:p@api.example/v1/?key=sk-1')).toBe('https://api.example/v1');
  });
});
