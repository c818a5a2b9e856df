// What a confidence policy tells the agents it asks again (docs/confidence.md): the runtime writes
// these AgentRequest.context keys, the SDKs and the text agents read them. JSON objects, bounded.

/** A retry's critique: the previous try's confidence, why it was not enough, and its answers. */
export const CRITIQUE_KEY = 'parallax.critique';
/** A supervisor's brief: every try, its confidence, and why the policy escalated. */
export const ESCALATION_KEY = 'parallax.escalation';

/** The JSON object under `key`, or undefined when it is absent or not an object. */
export function policyContext(context: Record<string, string>, key: string): Record<string, unknown> | undefined {
  const text = context[key];
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
