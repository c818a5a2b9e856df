// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core) against
// the server on a real API server with RBAC: a token login, the Executions list updating live from
// a watch as an Execution is created and changes phase, one Execution's agents, confidence and
// policy decisions, and approve from the page creating a Review with the user's own token — which
// a viewer is refused, and the page says so; and `parallax dashboard` as docs/server.md writes it. Without /usr/bin/chromium this fails: hack/install-tools.sh chromium.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AGENTS, EXECUTIONS, PATTERNS, REVIEWS } from '../../src/k8s/resources.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { freePort } from '../../src/envtest/control-plane.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { CLI_ENTRY } from '../helpers/cli.js';
import { eventually, startTestEnv, type TestEnv } from '../helpers/envtest.js';
import { createObject } from '../helpers/objects.js';
import { bindRole, installUserRoles, type TokenUser } from '../helpers/server.js';
import { docCommands, ROOT } from '../unit/packaging/tools.js';

const CHROMIUM = '/usr/bin/chromium';
const RUNNER: TokenUser = { user: 'rosa', token: 'rosa-token-7c01' };
const VIEWER: TokenUser = { user: 'vik', token: 'vik-token-11d3' };

let env: TestEnv;
let server: RunningServer;
let browser: Browser;
let ns: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`hack/install-tools.sh chromium\` (or apt-get install chromium)`);
  execFileSync('npm', ['run', '--silent', 'build:web'], { stdio: 'pipe' });
  env = await startTestEnv({ users: { [RUNNER.user]: RUNNER.token, [VIEWER.user]: VIEWER.token } });
  ns = await env.namespace('dashboard');
  await installUserRoles(env.rest);
  await bindRole(env.rest, ns, RUNNER.user, 'parallax-runner');
  await bindRole(env.rest, ns, VIEWER.user, 'parallax-viewer');
  server = await startServer({ kubeConfig: env.kubeConfig, address: '127.0.0.1:0', httpAddress: false, mode: 'forward', namespace: ns, webRoot: 'dist/web' });
  // As root (CI containers) chromium needs --no-sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}, 120000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await env?.stop();
});

async function loggedIn(user: TokenUser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(server.url);
  await page.fill('input[name=token]', user.token);
  await page.click('button[type=submit]');
  await page.waitForSelector(`header .who:text("${user.user}")`);
  return page;
}

const setStatus = (name: string, status: object) => env.rest.patch(resourcePath(EXECUTIONS, ns, name, 'status'), { status });

test('a wrong token is refused on the login form; a right one shows the Executions, updating live as they change', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(server.url);
  await page.fill('input[name=token]', 'not-a-token');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error:text("does not accept this token")');
  await page.context().close();

  const runner = await loggedIn(RUNNER);
  await runner.waitForSelector('#executions');
  await createObject(env.rest, EXECUTIONS, ns, 'first', { patternRef: { name: 'review-me' } });
  await runner.waitForSelector('#executions tr[data-name=first] .phase:text("Pending")');
  await setStatus('first', { phase: 'Running' });
  await runner.waitForSelector('#executions tr[data-name=first] .phase:text("Running")');
  await setStatus('first', { phase: 'Succeeded', confidence: 0.87 });
  await runner.waitForSelector('#executions tr[data-name=first] td:text("0.87")');
  await runner.context().close();
});

test('one Execution: its agents\' answers and confidence, the policy decisions, and approve from the page creates a Review', async () => {
  await createObject(env.rest, EXECUTIONS, ns, 'waiting', { patternRef: { name: 'review-me' } });
  await setStatus('waiting', {
    phase: 'AwaitingReview',
    confidence: 0.41,
    agents: [
      { name: 'alpha', step: 'draft', confidence: 0.41, value: { verdict: 'approve' }, reasoning: 'looks fine' },
      { name: 'beta', step: 'draft', error: 'deadline exceeded' },
    ],
    decisions: [{ step: 'draft', confidence: 0.41, action: 'review', message: 'below accept 0.8: waiting for a person' }],
    reviews: [{ step: 'draft', confidence: 0.41, requestedAt: new Date().toISOString() }],
  });
  const runner = await loggedIn(RUNNER);
  await runner.goto(`${server.url}/#/executions/waiting`);
  await runner.waitForSelector('h2 .phase:text("AwaitingReview")');
  expect(await runner.textContent('#agents tr[data-agent=alpha]')).toMatch(/draft.*0\.41.*"verdict": "approve".*looks fine/s);
  expect(await runner.textContent('#agents tr[data-agent=beta]')).toMatch(/deadline exceeded/);
  expect(await runner.textContent('#decisions tr[data-action=review]')).toMatch(/draft.*review.*0\.41.*below accept 0\.8/s);

  await runner.fill('input[name=comment]', 'checked by hand');
  await runner.click('button[name=approve]');
  await runner.waitForSelector('.outcome:text("approved: Review")');
  const reviews = await env.rest.list<any>(resourcePath(REVIEWS, ns));
  expect(reviews.items.map((r) => r.spec)).toEqual([expect.objectContaining({ executionRef: expect.objectContaining({ name: 'waiting' }), decision: 'approve', comment: 'checked by hand' })]);

  // The operator resumes the run; the page follows without a reload.
  await setStatus('waiting', { phase: 'Succeeded', decisions: [{ step: 'draft', confidence: 0.41, action: 'review' }, { step: 'draft', confidence: 0.41, action: 'approve', reviewer: 'rosa' }] });
  await runner.waitForSelector('h2 .phase:text("Succeeded")');
  await runner.waitForSelector('#decisions tr[data-action=approve] td:text("rosa")');
  await runner.context().close();
});

test('a viewer sees the same page, and its approve is refused with the API server\'s reason', async () => {
  await createObject(env.rest, EXECUTIONS, ns, 'held', { patternRef: { name: 'review-me' } });
  await setStatus('held', { phase: 'AwaitingReview' });
  const viewer = await loggedIn(VIEWER);
  await viewer.goto(`${server.url}/#/executions/held`);
  await viewer.click('button[name=reject]');
  await viewer.waitForSelector('.outcome:text("cannot create resource \\"reviews\\"")');
  await eventually(async () => (await env.rest.list<any>(resourcePath(REVIEWS, ns))).items.every((r) => r.spec.executionRef.name !== 'held'), 'no Review for held');
  await viewer.context().close();
});

test('Patterns and Agents lists', async () => {
  await createObject(env.rest, AGENTS, ns, 'alpha', { endpoint: 'alpha.example:50051', capabilities: ['review', 'code'] });
  await createObject(env.rest, PATTERNS, ns, 'review-me', {
    description: 'one agent drafts, a person checks',
    agents: { capabilities: ['review'] },
    steps: [{ name: 'draft', call: {} }],
    output: { value: 'draft[0].value', confidence: 'draft[0].confidence' },
  });
  const runner = await loggedIn(RUNNER);
  await runner.click('header a:text("Patterns")');
  await runner.waitForSelector('#patterns tr[data-name=review-me] td:text("one agent drafts, a person checks")');
  await runner.click('header a:text("Agents")');
  await runner.waitForSelector('#agents tr[data-name=alpha] td:text("review, code")');
  await runner.context().close();
});

test('docs/server.md: `parallax dashboard` as written serves the page on 127.0.0.1 with the kubeconfig\'s user, no login', async () => {
  const [command] = docCommands('docs/server.md', 'On your machine: `parallax dashboard`');
  expect(command).toBe('parallax --kubeconfig .local/kubeconfig dashboard --port 8090');
  // The local control plane's kubeconfig is this test's; a free port instead of the documented one.
  const args = command.split(' ').slice(1).map((a) => (a === '.local/kubeconfig' ? env.cp.kubeconfigPath : a));
  args[args.length - 1] = String(await freePort());
  const { LOG_LEVEL: _, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { cwd: ROOT, env: { ...inherited, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let out = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`parallax dashboard exited (${code}): ${out}`)));
    });
    const page = await (await browser.newContext()).newPage();
    await page.goto(url);
    await page.waitForSelector('header .who:text("kubeconfig:admin")');
    await createObject(env.rest, EXECUTIONS, ns, 'from-docs', { patternRef: { name: 'review-me' } });
    await page.fill('input[name=namespace]', ns); // the page opens in the context's namespace, "default"
    await page.press('input[name=namespace]', 'Enter');
    await page.waitForSelector('#executions tr[data-name=from-docs]');
    await page.context().close();
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});
