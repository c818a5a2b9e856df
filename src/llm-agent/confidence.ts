// Where the LLM agent's confidence comes from, in this order (the reply's metadata says which):
//
// 1. logprobs — the server returned token log-probabilities. confidence = exp(mean(logprob)) over
//    the answer's tokens (those before the CONFIDENCE marker): the geometric mean of their
//    probabilities, i.e. the length-normalised probability of the answer as the model wrote it.
//    The lowest token probability is reported beside it.
// 2. marker — the model's own `CONFIDENCE: x` (last one wins, clamped to [0,1]).
// 3. default — LLM_DEFAULT_CONFIDENCE, flagged in the reply's uncertainties.
import { findConfidenceMarker, textAnswer } from '../sdk/text-answer.js';

export type ConfidenceSource = 'logprobs' | 'marker' | 'default';

export interface TokenLogprob {
  token: string;
  logprob: number;
}

export interface ReadAnswer {
  value: unknown;
  reasoning?: string;
  confidence: number;
  source: ConfidenceSource;
  /** Reply metadata: confidence.source and how the figure was made. */
  metadata: Record<string, string>;
  uncertainties: string[];
}

export const LOGPROBS_FORMULA = 'exp(mean(logprob)) over the answer tokens (geometric mean token probability)';

/**
 * The geometric mean probability of `tokens` (those starting before `endIndex` in the text they
 * spell), and the lowest one; undefined when there are none.
 */
export function logprobConfidence(tokens: TokenLogprob[], endIndex = Infinity): { confidence: number; min: number; count: number } | undefined {
  let offset = 0;
  let sum = 0;
  let min = 0;
  let count = 0;
  for (const t of tokens) {
    if (offset >= endIndex) break;
    offset += t.token.length;
    // A server may send -9999 (OpenAI) or no number for a token far outside its top choices.
    const lp = Number.isFinite(t.logprob) ? Math.min(0, t.logprob) : -9999;
    sum += lp;
    min = count === 0 ? lp : Math.min(min, lp);
    count++;
  }
  if (count === 0) return undefined;
  return { confidence: Math.exp(sum / count), min: Math.exp(min), count };
}

/** The value, confidence and its source, from the model's text and (if any) its token logprobs. */
export function readAnswer(text: string, logprobs: TokenLogprob[] | undefined, defaultConfidence: number): ReadAnswer {
  const marker = findConfidenceMarker(text);
  const { value, reasoning } = textAnswer(marker ? marker.rest : text);
  const base = { value, ...(reasoning ? { reasoning } : {}) };
  const fromLogprobs = logprobs?.length ? logprobConfidence(logprobs, marker?.index) : undefined;
  if (fromLogprobs) {
    return {
      ...base,
      confidence: fromLogprobs.confidence,
      source: 'logprobs',
      metadata: {
        'confidence.source': 'logprobs',
        'confidence.formula': LOGPROBS_FORMULA,
        'confidence.tokens': String(fromLogprobs.count),
        'confidence.min_token_probability': String(fromLogprobs.min),
        // What the model said of itself, for comparison.
        ...(marker ? { 'confidence.marker': String(marker.written) } : {}),
      },
      uncertainties: [],
    };
  }
  if (marker) {
    return { ...base, confidence: marker.confidence, source: 'marker', metadata: { 'confidence.source': 'marker', 'confidence.marker': String(marker.written) }, uncertainties: [] };
  }
  return {
    ...base,
    confidence: defaultConfidence,
    source: 'default',
    metadata: { 'confidence.source': 'default' },
    uncertainties: [`confidence ${defaultConfidence} is the configured default: the server gave no logprobs and the model no CONFIDENCE: marker`],
  };
}
