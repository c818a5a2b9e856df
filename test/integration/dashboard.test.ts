// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core) against
// the server on a real API server with RBAC: a token login, the Executions list updating live from
// a watch as an Execution is created and changes phase, one Execution's agents, confidence and
// policy decisions, and approve from the page creating a Review with the user's own token — which
// a viewer is refused, and the page says so; and `parallax dashboard` as docs/server.md writes it.
// Also: every page loads without console errors, every control has an accessible name and is
// reached with Tab, a run started from the Run form follows live to Succeeded, the review queue
// approves, and a user bound in one namespace never receives anything of another. Screenshots go
// to test-artifacts/ (gitignored). Without /usr/bin/chromium this fails: hack/install-tools.sh chromium.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
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
const ARTIFACTS = 'test-artifacts';
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
  await runner.goto(`${server.url}/#/executions`);
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
    await page.click('header a:text("Executions")');
    await page.waitForSelector('#executions tr[data-name=from-docs]');
    await page.context().close();
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});

/** Console errors, uncaught exceptions and failed API calls (with their URL) of `page`, as they happen. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

const CONTROLS = 'a[href], button:not([disabled]), input, select, textarea';
const INTERACTIVE_ROLES = new Set(['button', 'link', 'textbox', 'combobox', 'checkbox', 'radio', 'searchbox', 'listbox', 'spinbutton']);

/** Controls of the page's accessibility tree (as chromium computes it) that have no accessible name. */
async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: { ignored?: boolean; role?: { value?: string }; name?: { value?: string } }[] };
    return nodes.filter((n) => !n.ignored && INTERACTIVE_ROLES.has(n.role?.value ?? '') && !n.name?.value?.trim()).map((n) => n.role!.value!);
  } finally {
    await cdp.detach();
  }
}

/** Presses Tab through the page and says which enabled controls were never focused. */
async function unreachableByTab(page: Page): Promise<string[]> {
  // Strings, not functions: they run in the page, and this file is compiled without the DOM types.
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  const count = await page.locator(CONTROLS).count();
  const seen = new Set<string>();
  for (let i = 0; i < count + 5; i++) {
    await page.keyboard.press('Tab');
    seen.add(await page.evaluate<string>('document.activeElement.outerHTML.slice(0, 120)'));
  }
  const all = await page.locator(CONTROLS).evaluateAll((els) => els.map((e) => e.outerHTML.slice(0, 120)));
  return all.filter((html) => !seen.has(html));
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/dashboard-${name}.png`, fullPage: true });
}

const INPUT_SCHEMA = { type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 20 } } };

test('every page loads without console errors; its controls are named and reached with Tab; screenshots', async () => {
  await createObject(env.rest, PATTERNS, ns, 'with-input', { description: 'checks its input', input: INPUT_SCHEMA, agents: { capabilities: ['review'] }, steps: [{ name: 'draft', call: {} }, { name: 'score', let: { high: 'draft[0].confidence > 0.5' } }], output: { value: 'draft[0].value', confidence: 'draft[0].confidence' } });
  await env.rest.patch(resourcePath(PATTERNS, ns, 'with-input', 'status'), { status: { phase: 'Invalid', errors: [{ path: 'steps[1].let.high', message: 'no such field' }] } });
  await createObject(env.rest, AGENTS, ns, 'judge', { endpoint: 'judge.example:50051', capabilities: ['review'] });
  const bin = (lower: number, weight: number, accuracy: number) => ({ lower, upper: lower + 0.1, weight, sumConfidence: weight * (lower + 0.05), sumOutcome: weight * accuracy, sumSquaredError: 0, confidence: lower + 0.05, accuracy });
  await env.rest.patch(resourcePath(AGENTS, ns, 'judge', 'status'), {
    status: { phase: 'Ready', replicas: 1, readyReplicas: 1, endpoints: ['judge.example:50051'], calibration: { weight: 30, successRate: 0.7, brier: 0.18, ece: 0.06, bins: [bin(0.5, 10, 0.5), bin(0.7, 12, 0.8), bin(0.9, 8, 0.85)] } },
  });
  await createObject(env.rest, EXECUTIONS, ns, 'timed', { patternRef: { name: 'with-input' }, input: { text: 'hi' } });
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  await setStatus('timed', {
    phase: 'Succeeded',
    confidence: 0.82,
    startTime: t(0),
    completionTime: t(4),
    steps: [{ name: 'draft', phase: 'Succeeded', startedAt: t(0), finishedAt: t(3) }, { name: 'score', phase: 'Succeeded', startedAt: t(3), finishedAt: t(4) }],
    agents: [
      { name: 'judge', step: 'draft', confidence: 0.6, calibrated: 0.55, latencyMs: 900 },
      { name: 'judge', step: 'draft', retry: 1, confidence: 0.85, calibrated: 0.82, latencyMs: 1400 },
    ],
    decisions: [{ step: 'draft', confidence: 0.55, action: 'retry', message: 'below 0.7: asked again' }, { step: 'draft', retry: 1, confidence: 0.82, action: 'accept' }],
  });

  const page = await loggedIn(RUNNER);
  const errors = consoleErrors(page);
  const pages: [string, string][] = [
    ['overview', '#by-phase tr[data-phase=Succeeded]'],
    ['executions', '#executions tr[data-name=timed]'],
    ['reviews', 'main h2:text("Review queue")'],
    ['patterns', '#patterns tr[data-name=with-input]'],
    ['agents', '#agents tr[data-name=judge]'],
    ['patterns/with-input', '#steps .step[data-step=score]'],
    ['agents/judge', '#reliability .bin'],
    ['executions/timed', '#timeline tr[data-step=score] .bar'],
  ];
  for (const [route, ready] of pages) {
    await page.goto(`${server.url}/#/${route}`);
    await page.waitForSelector(ready);
    expect({ route, unnamed: await unnamedControls(page) }).toEqual({ route, unnamed: [] });
    expect({ route, unreachable: await unreachableByTab(page) }).toEqual({ route, unreachable: [] });
    await screenshot(page, route.replace('/', '-'));
  }
  expect(errors).toEqual([]);

  // What those pages show.
  await page.goto(`${server.url}/#/agents/judge`);
  expect(await page.textContent('#calibration')).toMatch(/success rate \(decayed\)0\.700.*Brier score0\.180.*calibration error0\.060/s);
  expect(await page.locator('#reliability .bin').count()).toBe(3);
  await page.goto(`${server.url}/#/patterns/with-input`);
  expect(await page.textContent('#compile-errors')).toMatch(/steps\[1\]\.let\.high.*no such field/s);
  await page.goto(`${server.url}/#/executions/timed`);
  expect(await page.textContent('#timeline tr[data-step=draft]')).toMatch(/3000 ms/);
  expect(await page.textContent('#agents')).toMatch(/0\.85.*0\.82.*retry 1/s);
  expect(await page.textContent('#decisions tr[data-action=retry]')).toMatch(/below 0\.7/);
  await page.context().close();
});

test('a run started from the Run form (input checked against the schema first) appears and follows live to Succeeded with its confidence', async () => {
  const page = await loggedIn(RUNNER);
  const errors = consoleErrors(page);
  await page.goto(`${server.url}/#/patterns/with-input`);
  await page.fill('#run-input', '{"text": 7}');
  await page.waitForSelector('#run-problem.error:text("/text must be string")');
  expect(await page.isDisabled('button[name=run]')).toBe(true);
  await page.fill('#run-input', '{"text": "summarize this"}');
  await page.waitForSelector('#run-problem:text("fits the input schema")');
  await page.click('button[name=run]');
  await page.waitForURL(/#\/executions\/with-input-/);
  const name = decodeURIComponent(page.url().split('/').pop()!);
  await page.waitForSelector('h2 .phase:text("Pending")');
  const created = await env.rest.get<any>(resourcePath(EXECUTIONS, ns, name));
  expect(created.spec).toMatchObject({ patternRef: { name: 'with-input' }, input: { text: 'summarize this' } });

  const list = await (await page.context()).newPage();
  await list.goto(`${server.url}/#/executions`);
  await list.waitForSelector(`#executions tr[data-name="${name}"]`);
  await setStatus(name, { phase: 'Running' });
  await page.waitForSelector('h2 .phase:text("Running")');
  await setStatus(name, { phase: 'Succeeded', confidence: 0.93, result: { value: 'short', confidence: 0.93 } });
  await page.waitForSelector('h2 .phase:text("Succeeded")');
  expect(await page.textContent('#confidence')).toBe('0.93');
  await list.waitForSelector(`#executions tr[data-name="${name}"] td:text("0.93")`);
  await screenshot(page, 'run');
  expect(errors).toEqual([]);
  await page.context().close();
});

test('a low-confidence run appears in the review queue and is approved from it', async () => {
  await createObject(env.rest, EXECUTIONS, ns, 'unsure', { patternRef: { name: 'with-input' }, input: { text: 'hi' } });
  const page = await loggedIn(RUNNER);
  await page.goto(`${server.url}/#/reviews`);
  await page.waitForSelector('#queue li, #queue-empty'); // the page is read and its stream follows
  await setStatus('unsure', { phase: 'AwaitingReview', confidence: 0.31, reviews: [{ step: 'draft', confidence: 0.31, value: { verdict: 'maybe' }, requestedAt: new Date().toISOString() }] });
  const item = page.locator('#queue li[data-name=unsure]');
  await item.waitFor();
  expect(await item.textContent()).toMatch(/confidence 0\.31.*step draft.*"verdict":"maybe"/s);
  await screenshot(page, 'review-queue');
  await item.locator('button[name=approve]').click();
  await page.waitForSelector('#queue li[data-name=unsure] .outcome:text("approved: Review")');
  const reviews = await env.rest.list<any>(resourcePath(REVIEWS, ns));
  expect(reviews.items.filter((r) => r.spec.executionRef.name === 'unsure').map((r) => r.spec.decision)).toEqual(['approve']);
  await setStatus('unsure', { phase: 'Succeeded' }); // the operator took the verdict: the run leaves the queue
  await item.waitFor({ state: 'detached' });
  await page.context().close();
});

test('a user bound in one namespace never receives anything of another', async () => {
  const other = await env.namespace('b');
  await createObject(env.rest, EXECUTIONS, other, 'hidden-run', { patternRef: { name: 'p' } });
  await createObject(env.rest, AGENTS, other, 'hidden-agent', { endpoint: 'h.example:50051', capabilities: ['x'] });
  const page = await loggedIn(RUNNER);
  const bodies: string[] = [];
  page.on('response', (r) => {
    if (r.url().includes('/api/') && !(r.headers()['content-type'] ?? '').includes('event-stream')) void r.text().then((t) => bodies.push(t), () => undefined);
  });
  await page.fill('input[name=namespace]', other);
  await page.press('input[name=namespace]', 'Enter');
  for (const route of ['overview', 'executions', 'reviews', 'agents', 'patterns']) {
    await page.goto(`${server.url}/#/${route}`);
    await page.waitForSelector('.error:text("forbidden")');
    expect(await page.content()).not.toMatch(/hidden-/);
  }
  expect(bodies.length).toBeGreaterThan(0);
  for (const body of bodies) expect(body).not.toMatch(/"name":"hidden-/);
  // Asked by name (the name is the user's own words in the refusal), nothing of the object shows.
  for (const route of ['executions/hidden-run', 'agents/hidden-agent']) {
    await page.goto(`${server.url}/#/${route}`);
    await page.waitForSelector('main .error:text("forbidden")');
    expect(await page.locator('main h2, main table').count()).toBe(0);
  }
  await page.context().close();
});
