// Who made a Review or a Feedback. Kubernetes records no author of an object, so the mutating
// webhook writes the requesting user (the AdmissionReview's userInfo, which the API server
// authenticated) into the object as it is created: spec.reviewer of a Review, spec.reporter of a
// Feedback. Whatever the client wrote there is replaced; the validating webhook, which the API
// server calls after every mutating one, refuses a name that is not the requester's (only
// possible when the mutating webhook is off). docs/admission.md says why this earns a mutating
// webhook, and what is recorded when webhooks are off.
import type { AdmissionRequest, Mutator, PatchOperation, Problem } from './admission.js';

export class RequesterStamp<T extends { spec?: object }> implements Mutator<T> {
  constructor(
    readonly kind: string,
    /** The spec field that names the requester. */
    private readonly field: string,
  ) {}

  mutateCreate(obj: T, req: AdmissionRequest<T>): PatchOperation[] {
    const user = req.userInfo?.username;
    if (!user) return [];
    // `add` on an existing member replaces it (RFC 6902); a spec is required by the schema.
    return obj?.spec ? [{ op: 'add', path: `/spec/${this.field}`, value: user }] : [];
  }
}

/** A requester name that is not the requesting user's. */
export function requesterProblem(written: string | undefined, req: AdmissionRequest, field: string): Problem | undefined {
  const user = req.userInfo?.username;
  if (written === undefined || !user || written === user) return undefined;
  return { field, message: `is set from the requesting user (${user}), not chosen: leave it out` };
}
