// A2AClient against A2A agents served by the official SDK (test/fixtures/a2a-agent.ts, in-process)
// and against plain HTTP servers that are not A2A agents: what is sent, how answers and their
// confidence are read, and that every failure is a short message that repeats nothing a non-agent sent.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Message } from '@a2a-js/sdk';
import { A2AClient, a2aURLProblem, dialURL, type A2AClientOptions, type A2ATarget, type BearerTokens } from '../../../src/agents/index.js';
import { CredentialsError } from '../../../src/agents/a2a-credentials.js';
import { metrics } from '../../../src/observability/metrics.js';
import type { AgentCallRequest } from '../../../src/runtime/types.js';
import { startA2AAgent, type A2AAgentOptions } from '../../fixtures/a2a-agent.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An SDK agent on 127.0.0.2: its card says `localhost`, which does not reach it. */
async function sdkAgent(o: A2AAgentOptions = {}) {
  const received: Message[] = [];
  const agent = await startA2AAgent({ host: '127.0.0.2', ...o, onMessage: (m) => received.push(m) });
  cleanups.push(() => agent.close());
  return { url: agent.url, received };
}

/** A plain HTTP server (not an A2A agent). */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** A URL where nothing listens. */
async function deadURL(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/`;
}

const CARD = (url: string) => ({
  name: 'plain',
  description: '',
  version: '1',
  supportedInterfaces: [{ url, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' }],
  capabilities: {},
  defaultInputModes: [],
  defaultOutputModes: [],
  skills: [],
});

function client(target: Partial<A2ATarget> & { url: string }, opts: A2AClientOptions = {}) {
  return new A2AClient(() => ({ timeoutMs: 5000, defaultConfidence: 0.5, ...target }), { retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...opts });
}

function req(extra: Partial<AgentCallRequest> = {}): AgentCallRequest {
  return {
    agent: { name: 'ns/reviewer', capabilities: [], expertise: 0.5, labels: {} },
    step: 'review',
    task: 'Review PR 42',
    data: { pr: 42 },
    taskId: 'exec-1/review/reviewer',
    patternName: 'consensus',
    signal: new AbortController().signal,
    ...extra,
  };
}

/** Failed calls counted for the Agent `namespace/name` with `code`. */
async function errorCount(agent: string, code: string): Promise<number> {
  const [namespace, name] = agent.split('/');
  const m = await metrics.agentCallErrors.get();
  return m.values.find((v) => v.labels.namespace === namespace && v.labels.agent === name && v.labels.code === code)?.value ?? 0;
}

describe('A2AClient calls', () => {
  it('sends the task as one message (text with the input, data part, metadata) and reads a completed task', async () => {
    const { url, received } = await sdkAgent({ text: '{"recommendation": "approve"}\nCONFIDENCE: 0.8' });
    const r = await client({ url }).call(req());
    expect(r).toMatchObject({ agent: 'ns/reviewer', endpoint: url, value: { recommendation: 'approve' }, confidence: 0.8, confidenceSource: 'marker' });
    expect(r.error).toBeUndefined();
    expect(r.uncertainties).toBeUndefined();
    expect(received).toHaveLength(1);
    const [m] = received;
    expect(m.parts.map((p) => p.content)).toEqual([
      { $case: 'text', value: 'Review PR 42\n\nInput:\n```json\n{\n  "pr": 42\n}\n```' },
      { $case: 'data', value: { pr: 42 } },
    ]);
    expect(m.metadata).toEqual({
      'parallax.taskId': 'exec-1/review/reviewer',
      'parallax.step': 'review',
      'parallax.pattern': 'consensus',
      'parallax.agent': 'ns/reviewer',
    });
  });

  it('the chain of Patterns that led to the call rides in the metadata, for the gateway to refuse a loop', async () => {
    const { url, received } = await sdkAgent({ text: 'ok' });
    await client({ url }).call(req({ chain: ['team-a/outer', 'team-a/consensus'] }));
    expect(received[0].metadata).toMatchObject({ 'parallax.a2a.chain': ['team-a/outer', 'team-a/consensus'] });
  });

  it('a task without input data is one text part', async () => {
    const { url, received } = await sdkAgent({ text: 'ok' });
    await client({ url }).call(req({ data: null }));
    expect(received[0].parts.map((p) => p.content)).toEqual([{ $case: 'text', value: 'Review PR 42' }]);
  });

  it('metadata.confidence wins over a marker; a data part is the value and the text its reasoning', async () => {
    const { url } = await sdkAgent({ reply: 'message', data: { verdict: 'ship' }, text: 'tests pass\nCONFIDENCE: 0.1', confidence: 0.9 });
    const r = await client({ url }).call(req());
    expect(r).toMatchObject({ value: { verdict: 'ship' }, confidence: 0.9, reasoning: 'tests pass' });
    // Plain JSON, as the runtime stores and compares values (the SDK's own objects are not).
    expect(Object.getPrototypeOf(r.value)).toBe(Object.prototype);
  });

  it('metadata.confidence may be a numeric string', async () => {
    const { url } = await sdkAgent({ text: 'yes', confidence: '0.65' });
    expect((await client({ url }).call(req())).confidence).toBe(0.65);
  });

  it.each([
    ['high', '"high"'],
    [1.7, '1.7'],
  ])('metadata.confidence %p is an invalid reply, not clamped', async (confidence, shown) => {
    const { url } = await sdkAgent({ text: 'yes', confidence });
    const r = await client({ url }).call(req());
    expect(r).toMatchObject({ value: null, confidence: 0, error: `A2A agent ns/reviewer answered metadata.confidence ${shown}, outside [0,1]` });
  });

  it('the last CONFIDENCE marker wins and is clamped', async () => {
    const { url } = await sdkAgent({ text: 'CONFIDENCE: 0.2 at first, then\nCONFIDENCE: 1.4' });
    expect(await client({ url }).call(req())).toMatchObject({ value: 'CONFIDENCE: 0.2 at first, then', confidence: 1 });
  });

  it("no confidence at all: the Agent's defaultConfidence, flagged as such", async () => {
    const { url } = await sdkAgent({ text: 'approve' });
    const r = await client({ url, defaultConfidence: 0.6 }).call(req());
    expect(r).toMatchObject({ value: 'approve', confidence: 0.6, confidenceSource: 'default' });
    expect(r.uncertainties).toEqual([
      "confidence 0.6 is the Agent's defaultConfidence: the reply carried no metadata.confidence and no CONFIDENCE: marker",
    ]);
  });

  it('speaks A2A v0.3 to an agent that only has that (the SDK compat layer)', async () => {
    const { url } = await sdkAgent({ protocolVersion: '0.3', data: { recommendation: 'approve' }, confidence: 0.7 });
    const c = client({ url });
    expect(await c.call(req())).toMatchObject({ value: { recommendation: 'approve' }, confidence: 0.7, confidenceSource: 'metadata' });
    expect((await c.probe(url, 2000)).health.details).toMatchObject({ protocolVersion: '0.3' });
  });

  it('a failed task and a task that wants input are errors that say so', async () => {
    const failed = await sdkAgent({ fail: 'model overloaded' });
    expect((await client({ url: failed.url }).call(req())).error).toBe('A2A agent ns/reviewer: task failed: model overloaded');
    // The task's status text is one line of at most 512 characters.
    const long = await sdkAgent({ fail: `line one\n${'x'.repeat(600)}` });
    expect((await client({ url: long.url }).call(req())).error).toBe(`A2A agent ns/reviewer: task failed: line one ${'x'.repeat(502)}…`);
    const asks = await sdkAgent({ inputRequired: true });
    expect((await client({ url: asks.url }).call(req())).error).toBe(
      'A2A agent ns/reviewer asks for more input (task input-required); a Pattern step sends one message and cannot answer',
    );
  });

  it('an answer with neither text nor data is invalid', async () => {
    const { url } = await sdkAgent({});
    expect((await client({ url }).call(req())).error).toBe('A2A agent ns/reviewer answered without a text or data part');
  });

  it('garbage from the JSON-RPC endpoint is an error that does not repeat it', async () => {
    const { url } = await sdkAgent({ garbage: true });
    const before = await errorCount('ns/reviewer', 'INVALID_REPLY');
    const r = await client({ url }).call(req());
    expect(r).toMatchObject({ value: null, confidence: 0, endpoint: url, error: `A2A agent ns/reviewer at ${url} answered something that is not JSON` });
    expect(await errorCount('ns/reviewer', 'INVALID_REPLY')).toBe(before + 1);
  });

  it.each([500, 503, 429])('HTTP %i is reported by status alone, never with its body, and not retried (the agent may have acted)', async (status) => {
    let posts = 0;
    const url = await httpServer((rq, res) => {
      if (rq.method === 'GET') return void res.setHeader('content-type', 'application/json').end(JSON.stringify(CARD('http://elsewhere.example/')));
      posts++;
      res.statusCode = status;
      res.end('stack trace with secret-internal-token-42');
    });
    const r = await client({ url }).call(req());
    expect(r.error).toBe(`A2A agent ns/reviewer at ${url} answered HTTP ${status}`);
    expect(posts).toBe(1);
  });

  it('a JSON-RPC reply that is not A2A is named by kind only', async () => {
    const url = await httpServer((rq, res) => {
      res.setHeader('content-type', 'application/json');
      if (rq.method === 'GET') return void res.end(JSON.stringify(CARD('/')));
      res.end(JSON.stringify({ jsonrpc: '1.0', result: 'secret-internal-token-42' }));
    });
    const r = await client({ url }).call(req());
    expect(r.error).toBe(`A2A agent ns/reviewer at ${url} answered something that is not an A2A reply (not JSON-RPC 2.0)`);
  });

  it('the card says where to post; the operator posts there on the Agent’s own origin', async () => {
    const posts: string[] = [];
    const url = await httpServer((rq, res) => {
      res.setHeader('content-type', 'application/json');
      if (rq.method === 'GET') return void res.end(JSON.stringify(CARD('http://elsewhere.example:9/rpc?x=1')));
      posts.push(rq.url!);
      let body = '';
      rq.on('data', (d) => (body += d)).on('end', () => {
        const id = JSON.parse(body).id;
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result: { message: { messageId: 'm', role: 'ROLE_AGENT', parts: [{ text: 'fine' }], metadata: { confidence: 0.4 } } } }));
      });
    });
    expect(await client({ url }).call(req())).toMatchObject({ value: 'fine', confidence: 0.4 });
    expect(posts).toEqual(['/rpc?x=1']);
  });

  /** A JSON-RPC agent whose task stays `working` for `workingPolls` GetTask calls; records the methods called. */
  async function pollingAgent(workingPolls: number) {
    const methods: string[] = [];
    const task = (state: string) => ({
      id: 'task-1', contextId: 'ctx-1', status: { state },
      artifacts: state === 'TASK_STATE_COMPLETED' ? [{ artifactId: 'a', parts: [{ text: 'done\nCONFIDENCE: 0.7' }] }] : [],
    });
    const url = await httpServer((rq, res) => {
      res.setHeader('content-type', 'application/json');
      if (rq.method === 'GET') return void res.end(JSON.stringify(CARD('/')));
      let body = '';
      rq.on('data', (d) => (body += d)).on('end', () => {
        const { id, method } = JSON.parse(body);
        methods.push(method);
        const polls = methods.filter((m) => m === 'GetTask').length;
        const result = method === 'SendMessage' ? { task: task('TASK_STATE_WORKING') } : task(polls > workingPolls ? 'TASK_STATE_COMPLETED' : method === 'CancelTask' ? 'TASK_STATE_CANCELED' : 'TASK_STATE_WORKING');
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result }));
      });
    });
    return { url, methods };
  }

  it('a task still working is polled until it completes', async () => {
    const { url, methods } = await pollingAgent(2);
    expect(await client({ url }).call(req())).toMatchObject({ value: 'done', confidence: 0.7 });
    expect(methods).toEqual(['SendMessage', 'GetTask', 'GetTask', 'GetTask']);
  });

  it('a task still working at the deadline is cancelled, and the call ends at its deadline', async () => {
    const { url, methods } = await pollingAgent(Infinity);
    const r = await client({ url }).call(req({ timeoutMs: 400 }));
    expect(r.error).toBe(`A2A agent ns/reviewer at ${url}: deadline exceeded after 400ms`);
    while (!methods.includes('CancelTask')) await new Promise((res) => setTimeout(res, 20));
    expect(methods[0]).toBe('SendMessage');
    expect(methods.filter((m) => m === 'SendMessage')).toHaveLength(1);
  });

  it('a reply larger than maxReplyBytes is cut off', async () => {
    const { url } = await sdkAgent({ data: { blob: 'x'.repeat(20_000) } });
    const r = await client({ url }, { maxReplyBytes: 10_000 }).call(req());
    expect(r.error).toBe(`A2A agent ns/reviewer at ${url} answered more than 10000 bytes`);
  });

  it('an agent that is down: its error names the refused connection', async () => {
    const url = await deadURL();
    const r = await client({ url }).call(req());
    expect(r).toMatchObject({ value: null, confidence: 0, endpoint: url });
    expect(r.error).toBe(`A2A agent ns/reviewer: the agent card at ${url}.well-known/agent-card.json refused the connection (ECONNREFUSED)`);
  });

  it('a slow agent: deadline exceeded after the call timeout, not after the agent answers', async () => {
    const { url } = await sdkAgent({ text: 'late', delayMs: 5000 });
    const c = client({ url, timeoutMs: 30000 });
    await c.probe(url, 2000); // card cached: the deadline is the message's
    const r = await c.call(req({ timeoutMs: 300 }));
    expect(r.error).toBe(`A2A agent ns/reviewer at ${url}: deadline exceeded after 300ms`);
    expect(r.latencyMs).toBeLessThan(4000);
  });

  it('the caller cancelling ends the call at once', async () => {
    const { url, received } = await sdkAgent({ text: 'late', delayMs: 5000 });
    const ac = new AbortController();
    const pending = client({ url }).call(req({ signal: ac.signal }));
    while (received.length === 0) await new Promise((r) => setTimeout(r, 20));
    ac.abort(new Error('execution deleted'));
    const r = await pending;
    expect(r.error).toBe(`A2A agent ns/reviewer at ${url}: call cancelled (execution deleted)`);
    const before = ac.signal;
    expect((await client({ url }).call(req({ signal: before }))).error).toBe('A2A agent ns/reviewer: call cancelled before it started (execution deleted)');
  });

  it('an unknown or not-Ready Agent has no endpoints', async () => {
    const r = await new A2AClient(() => undefined).call(req());
    expect(r).toMatchObject({ confidence: 0, error: 'agent ns/reviewer has no ready endpoints' });
  });

  it('the circuit opens after consecutive failures and then fails fast', async () => {
    const url = await deadURL();
    const c = client({ url }, { breaker: { failureThreshold: 2, resetTimeoutMs: 60_000 }, retry: { maxAttempts: 1 } });
    await c.call(req());
    await c.call(req());
    expect((await c.call(req())).error).toBe(`A2A agent ns/reviewer: circuit open for ${url}`);
    c.forgetAgent('ns/reviewer');
    expect((await c.call(req())).error).toMatch(/refused the connection/);
  });
});

describe('A2AClient probes (agent card)', () => {
  it('a card is health and capabilities: skill ids and tags', async () => {
    const { url } = await sdkAgent({ name: 'Reviewer', skills: ['code-review', 'security'] });
    const p = await client({ url }).probe(url, 2000);
    expect(p).toMatchObject({
      healthy: true,
      health: { status: 'HEALTHY', message: 'agent card "Reviewer" version 1.0.0', details: { card: `${url}.well-known/agent-card.json`, binding: 'JSONRPC' } },
      capabilities: { name: 'Reviewer', capabilities: ['code-review', 'code-review-tag', 'security', 'security-tag'] },
    });
    expect(p.capabilities?.expertise).toBeUndefined();
  });

  it('falls back to the pre-0.3 /.well-known/agent.json', async () => {
    const url = await httpServer((rq, res) => {
      if (rq.url !== '/.well-known/agent.json') return void res.writeHead(404).end();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'old', description: '', url: 'http://localhost:1/', version: '0', protocolVersion: '0.2.5', capabilities: {}, defaultInputModes: [], defaultOutputModes: [], skills: [{ id: 's', name: 's', description: '', tags: [] }] }));
    });
    expect(await client({ url }).probe(url, 2000)).toMatchObject({ healthy: true, health: { details: { card: `${url}.well-known/agent.json` } } });
  });

  it.each([
    ['an HTTP error', (res: ServerResponse) => void res.writeHead(503).end('secret-internal-token-42'), 'answered HTTP 503'],
    ['not JSON', (res: ServerResponse) => void res.end('<html>secret-internal-token-42</html>'), 'answered something that is not JSON'],
    ['JSON that is not a card', (res: ServerResponse) => void res.end('{"hello":"secret-internal-token-42"}'), 'is not an A2A agent card: no name'],
    ['a redirect', (res: ServerResponse) => void res.writeHead(302, { location: 'http://169.254.169.254/' }).end(), 'answered HTTP 302'],
    ['a card too large', (res: ServerResponse) => void res.end(JSON.stringify({ name: 'x'.repeat(5000) })), 'answered more than 1 KiB'],
  ])('%s makes the agent unhealthy with a message that repeats nothing', async (_what, answer, problem) => {
    const url = await httpServer((_rq, res) => answer(res));
    const p = await client({ url }, { maxCardBytes: 1024 }).probe(url, 2000);
    expect(p).toMatchObject({ healthy: false, error: `the agent card at ${url}.well-known/agent-card.json ${problem}` });
    expect(p.health.message).toBe(p.error);
  });

  it('an agent that does not answer within the probe timeout', async () => {
    const url = await httpServer(() => {});
    expect((await client({ url }).probe(url, 200)).error).toBe(`agent card at ${url}: no answer within 200ms`);
  });

  it('a card offering only transports the operator does not speak', async () => {
    const url = await httpServer((_rq, res) => void res.end(JSON.stringify({ ...CARD('/'), supportedInterfaces: [{ url: '/', protocolBinding: 'GRPC', protocolVersion: '1.0', tenant: '' }] })));
    expect((await client({ url }).probe(url, 2000)).error).toBe(
      `the agent card at ${url}.well-known/agent-card.json offers no interface the operator speaks (JSONRPC or HTTP+JSON; it offers GRPC)`,
    );
  });
});

describe('A2AClient bearer tokens (spec.auth)', () => {
  const source = 'Secret ns/gw key token';
  /** Tokens for any Agent: the current value of `current`, counting the reads. */
  function tokens(current: { token: string }) {
    const reads = { n: 0 };
    const read: BearerTokens = async () => {
      reads.n++;
      return { token: current.token, source };
    };
    return { read, reads };
  }

  it('the token goes with the card and the message, to the Agent’s origin only, whatever the card names', async () => {
    const elsewhere: string[] = [];
    const other = await httpServer((rq, res) => {
      elsewhere.push(`${rq.method} ${rq.headers.authorization}`);
      res.writeHead(500).end();
    });
    const seen: string[] = [];
    const url = await httpServer((rq, res) => {
      seen.push(`${rq.method} ${rq.url} ${rq.headers.authorization}`);
      if (rq.method === 'GET') return void res.setHeader('content-type', 'application/json').end(JSON.stringify(CARD(`${other}rpc`)));
      res.writeHead(403).end();
    });
    const r = await client({ url }, { bearerTokens: tokens({ token: 't0ken' }).read }).call(req());
    expect(seen).toEqual(['GET /.well-known/agent-card.json Bearer t0ken', 'POST /rpc Bearer t0ken']);
    expect(elsewhere).toEqual([]);
    // The card was read with the token, the message refused: the identity is not allowed this.
    expect(r.error).toBe(`A2A agent ns/reviewer at ${url} answered HTTP 403: the bearer token of ${source} is not allowed this`);
  });

  it('an agent that wants the token answers; a rotated token is read again with the card', async () => {
    const { url } = await sdkAgent({ text: 'ok', bearerToken: 'old' });
    const current = { token: 'old' };
    const { read, reads } = tokens(current);
    const c = client({ url }, { bearerTokens: read, cardTtlMs: 0 });
    expect((await c.call(req())).error).toBeUndefined();
    current.token = 'new';
    const r = await c.call(req());
    expect(reads.n).toBe(2);
    // Refused: the message names the Secret, never a token.
    expect(r.error).toBe(`A2A agent ns/reviewer: the agent card at ${url}.well-known/agent-card.json answered HTTP 401: it does not accept the bearer token of ${source}`);
    expect(await errorCount('ns/reviewer', 'TOKEN_REFUSED')).toBeGreaterThan(0);
    const p = await c.probe(url, 2000, 'ns/reviewer');
    expect(p).toMatchObject({ healthy: false, credentialsProblem: p.error });
    expect(JSON.stringify([r, p])).not.toMatch(/new|old/);
  });

  it('without a token, an agent that asks for one is told it asks for credentials', async () => {
    const { url } = await sdkAgent({ text: 'ok', bearerToken: 'x' });
    const r = await client({ url }).call(req());
    expect(r.error).toMatch(/answered HTTP 401: it asks for credentials, and this Agent gives none \(spec.auth.bearerTokenSecretRef\)$/);
  });

  it('credentials that cannot be read fail the call before anything is dialled, and the probe says why', async () => {
    const requests: string[] = [];
    const url = await httpServer((rq, res) => {
      requests.push(rq.url ?? '');
      res.writeHead(500).end();
    });
    const c = client({ url }, { bearerTokens: async () => Promise.reject(new CredentialsError('spec.auth.bearerTokenSecretRef: Secret gw is not labelled parallax.ai/agent-credentials=true')) });
    const before = await errorCount('ns/reviewer', 'CREDENTIALS');
    expect((await c.call(req())).error).toBe('A2A agent ns/reviewer: spec.auth.bearerTokenSecretRef: Secret gw is not labelled parallax.ai/agent-credentials=true');
    expect(await errorCount('ns/reviewer', 'CREDENTIALS')).toBe(before + 1);
    expect((await c.probe(url, 2000, 'ns/reviewer')).credentialsProblem).toMatch(/not labelled parallax.ai\/agent-credentials=true/);
    expect(requests).toEqual([]);
  });
});

describe('A2A URLs', () => {
  it.each([
    ['http://agent.ns.svc:8080/', undefined],
    ['https://agents.example/a2a/reviewer/', undefined],
    ['ftp://agent/', 'spec.url "ftp://agent/" must use http or https, not ftp'],
    ['http://user:pw@agent/', 'spec.url must not carry credentials (user:password@); they would be shown in status and logs'],
    ['http://agent/#x', 'spec.url "http://agent/#x" must not have a #fragment'],
    ['agent:8080', 'spec.url "agent:8080" must use http or https, not agent'],
    ['not a url', 'spec.url "not a url" is not a URL'],
  ])('%s: %p', (url, problem) => {
    expect(a2aURLProblem(url)).toBe(problem);
  });

  it('a URL from the card keeps its path and query, on the Agent’s origin', () => {
    expect(dialURL('http://agent.ns:8080/base/', 'https://localhost:9999/rpc?t=1').href).toBe('http://agent.ns:8080/rpc?t=1');
    expect(dialURL('http://agent.ns:8080/base/', 'v1/rpc').href).toBe('http://agent.ns:8080/base/v1/rpc');
    expect(() => dialURL('http://u:p@agent/')).toThrow('must not carry credentials');
  });
});
