// The admission webhook as the operator runs it: a validator per kind and the mutating webhook that
// records who made Reviews and Feedback (identity.ts) and which decision point a Review answers
// (review-mutator.ts), on one HTTPS server, served by every replica (leader or not) from its own
// informer caches, with certificates from a Secret the operator manages or from a directory. Ready
// (and so in the Service's endpoints) once it serves.
import { GROUP, VERSION } from '../api/types.js';
import type { OperatorContext } from '../controllers/context.js';
import type { Evaluator, PatternCompiler } from '../runtime/index.js';
import { AgentValidator, type SecretRefPolicy } from './agent-validator.js';
import { DEFAULT_POLICY, type RotationPolicy } from './cert-rotation.js';
import { type CertificateSource, DirectoryCertificates, SecretCertificates } from './certificate-sources.js';
import { ExecutionValidator } from './execution-validator.js';
import { FeedbackValidator } from './feedback-validator.js';
import { RequesterStamp } from './identity.js';
import { PatternValidator } from './pattern-validator.js';
import { ReviewValidator } from './review-validator.js';
import { ReviewStamp } from './review-mutator.js';
import { AdmissionServer, mutatePath, validatePath } from './server.js';

export interface WebhookOptions {
  port: number;
  host?: string;
  /** tls.crt and tls.key from this directory (cert-manager); otherwise the Secret below. */
  certDir?: string;
  secret?: {
    namespace: string;
    name: string;
    /** ValidatingWebhookConfiguration whose caBundle the operator keeps. */
    configuration?: string;
    /** MutatingWebhookConfiguration whose caBundle the operator keeps. */
    mutatingConfiguration?: string;
    /** Names the serving certificate must carry: the Service's DNS names, or 127.0.0.1 in tests. */
    hosts: string[];
    policy?: Partial<Omit<RotationPolicy, 'hosts'>>;
    resyncMs?: number;
  };
  agentSecretRefs?: SecretRefPolicy;
  /** The webhook configurations' timeoutSeconds (server.ts derives its timeouts and deadline from it). */
  timeoutSeconds?: number;
  deadlineMs?: number;
  /** Where Execution inputs are checked against their schema: the operator's evaluation sandbox. */
  evaluator?: Evaluator;
  /** Where Patterns are compiled (admission of Patterns, and of Executions against theirs): the same sandbox. */
  compiler?: PatternCompiler;
}

/** The DNS names a Service is reached by from the API server. */
export function serviceHosts(namespace: string, service: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export class AdmissionWebhook {
  readonly server: AdmissionServer;
  private readonly source: CertificateSource;

  constructor(ctx: OperatorContext, opts: WebhookOptions) {
    this.server = new AdmissionServer({ port: opts.port, host: opts.host, timeoutSeconds: opts.timeoutSeconds, deadlineMs: opts.deadlineMs })
      .register(validatePath(GROUP, VERSION, 'Agent'), new AgentValidator(ctx.rest, opts.agentSecretRefs ?? 'allow'))
      .register(validatePath(GROUP, VERSION, 'Pattern'), new PatternValidator(ctx, opts.compiler))
      .register(validatePath(GROUP, VERSION, 'Execution'), new ExecutionValidator(ctx, opts.evaluator, opts.compiler))
      .register(validatePath(GROUP, VERSION, 'Review'), new ReviewValidator(ctx))
      .register(validatePath(GROUP, VERSION, 'Feedback'), new FeedbackValidator(ctx))
      .registerMutator(mutatePath(GROUP, VERSION, 'Review'), new ReviewStamp(ctx))
      .registerMutator(mutatePath(GROUP, VERSION, 'Feedback'), new RequesterStamp('Feedback', 'reporter'));
    if (opts.certDir) {
      this.source = new DirectoryCertificates(opts.certDir);
    } else if (opts.secret) {
      const { hosts, policy, ...secret } = opts.secret;
      this.source = new SecretCertificates(ctx.rest, { ...secret, policy: { ...DEFAULT_POLICY, ...policy, hosts } });
    } else {
      throw new Error('the webhook needs a certificate directory (--webhook-cert-dir) or a Secret to manage');
    }
  }

  get ready(): boolean {
    return this.server.serving;
  }

  async start(): Promise<void> {
    this.source.start((pair) => this.server.setCertificate(pair));
  }

  async stop(): Promise<void> {
    this.source.stop();
    await this.server.close();
  }
}
