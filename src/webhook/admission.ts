// The admission.k8s.io/v1 AdmissionReview as the webhook server reads and answers it, and the
// validator shape (controller-runtime's CustomValidator: one per kind, create and update). A
// validator never writes anything (sideEffects: None), so dry-run requests are checked exactly as
// real ones and `kubectl apply --dry-run=server` shows the same refusals.
import { isDeepStrictEqual } from 'node:util';

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AdmissionRequest<T = unknown> {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo: UserInfo;
  object?: T;
  oldObject?: T;
  dryRun?: boolean;
}

export interface AdmissionReview<T = unknown> {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest<T>;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  /** A mutating webhook's change: base64 of a JSON Patch. */
  patchType?: 'JSONPatch';
  patch?: string;
}

/** One JSON Patch (RFC 6902) operation. */
export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/**
 * A mutating webhook's handler for one kind (controller-runtime's CustomDefaulter): the changes to
 * make to an object being created. Never refuses; validators do that.
 */
export interface Mutator<T> {
  readonly kind: string;
  /** May read the API server (a sharded replica's cache holds only its own share of Executions). */
  mutateCreate(obj: T, req: AdmissionRequest<T>): PatchOperation[] | Promise<PatchOperation[]>;
}

/** One reason to refuse: the field (`spec.steps[1].let.high`) and what is wrong with it. */
export interface Problem {
  field?: string;
  message: string;
}

/** A validator's answer: refused when there are problems; warnings are shown by kubectl either way. */
export interface Verdict {
  problems?: Problem[];
  warnings?: string[];
}

export const ALLOWED: Verdict = {};

export interface Validator<T> {
  /** Kind it validates (the `kind` of the AdmissionReview's request). */
  readonly kind: string;
  validateCreate(obj: T, req: AdmissionRequest<T>): Promise<Verdict>;
  validateUpdate(obj: T, old: T, req: AdmissionRequest<T>): Promise<Verdict>;
}

/** `Pattern "review" is invalid: spec.steps[1].let.high: undeclared reference to 'x'; …` (the API server's own wording for schema errors). */
export function denialMessage(kind: string, name: string, problems: Problem[]): string {
  return `${kind} "${name}" is invalid: ${problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ')}`;
}

/** The answer to a request, from a verdict. */
export function respond(req: AdmissionRequest, verdict: Verdict, objectName: string): AdmissionResponse {
  const warnings = verdict.warnings?.length ? { warnings: verdict.warnings } : {};
  if (!verdict.problems?.length) return { uid: req.uid, allowed: true, ...warnings };
  return {
    uid: req.uid,
    allowed: false,
    status: {
      code: 422,
      reason: 'Invalid',
      // No details.causes: kubectl would print those instead of the message and drop the
      // webhook's name, and the message already has every field.
      message: denialMessage(req.kind.kind, objectName, verdict.problems),
    },
    ...warnings,
  };
}

/** Whether an update changes the spec (metadata-only updates, e.g. finalizers and labels, are never refused). */
export function specChanged(obj: { spec?: unknown }, old: { spec?: unknown } | undefined): boolean {
  return !isDeepStrictEqual(obj?.spec ?? null, old?.spec ?? null);
}
