// Events the API server accepts whatever they are about: a note of non-ASCII text cut to 1 KiB of
// UTF-8 on a character boundary (not 1,024 UTF-16 units, which the API server refuses), and the
// Event of an object whose name is as long as names go (253 characters) still a valid name.
import { EventRecorder } from '../../src/k8s/events.js';
import { resourcePath } from '../../src/k8s/rest.js';
import { EVENTS } from '../../src/k8s/resources.js';
import { startTestEnv, type TestEnv } from '../helpers/envtest.js';

let env: TestEnv;
let ns: string;

beforeAll(async () => {
  env = await startTestEnv();
  ns = await env.namespace('events');
}, 120000);

afterAll(async () => {
  await env?.stop();
});

const about = (name: string) => ({ apiVersion: 'parallax.ai/v1alpha1', kind: 'Execution', metadata: { name, namespace: ns, uid: `uid-${name.length}` } });

test('a long non-ASCII note and a 253-character object name: both Events are written', async () => {
  const recorder = new EventRecorder(env.rest, 'test');
  const long = `e${'x'.repeat(250)}-1`;
  expect(long).toHaveLength(253);
  await recorder.record(about('reviewed'), 'Normal', 'Rejected', `rejected by alice: ${'é'.repeat(1000)}🙂`);
  await recorder.record(about(long), 'Normal', 'Started', 'running');
  const events = (await env.rest.list<any>(resourcePath(EVENTS, ns))).items;
  const note = events.find((e) => e.regarding.name === 'reviewed')?.note as string;
  expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
  expect(note).toBe(`rejected by alice: ${'é'.repeat(502)}`); // 19 + 502 × 2 = 1023 bytes: the next é would not fit whole
  const named = events.find((e) => e.regarding.name === long);
  expect(named?.metadata.name.length).toBeLessThanOrEqual(253);
});
