// A mutator that cannot finish (it reads the API server, which failed) refuses the create with why,
// like a validator that cannot check, rather than letting the object in without what it adds.
import { request } from 'node:https';
import { createCA, issueServingCert } from '../../../src/webhook/certificates.js';
import { AdmissionServer, mutatePath } from '../../../src/webhook/server.js';

function post(port: number, path: string, body: object): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a mutator whose read fails refuses the create, saying why; one that succeeds patches it', async () => {
  const ca = await createCA('test-ca', 3600_000);
  const server = new AdmissionServer({ port: 0, host: '127.0.0.1' })
    .registerMutator(mutatePath('parallax.ai', 'v1alpha1', 'Review'), { kind: 'Review', mutateCreate: () => Promise.reject(new Error('executions "e" is forbidden')) })
    .registerMutator(mutatePath('parallax.ai', 'v1alpha1', 'Feedback'), { kind: 'Feedback', mutateCreate: async () => [{ op: 'add', path: '/spec/reporter', value: 'alice' }] });
  await server.setCertificate(await issueServingCert(ca, ['127.0.0.1'], 3600_000));
  try {
    const review = (kind: string) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u1', kind: { group: 'parallax.ai', version: 'v1alpha1', kind }, operation: 'CREATE', namespace: 'a', name: 'r', object: { metadata: { name: 'r', namespace: 'a' }, spec: {} } },
    });
    const refused = await post(server.port!, mutatePath('parallax.ai', 'v1alpha1', 'Review'), review('Review'));
    expect(refused.response).toMatchObject({ uid: 'u1', allowed: false, status: { message: expect.stringContaining('could not complete it: executions "e" is forbidden') } });
    const patched = await post(server.port!, mutatePath('parallax.ai', 'v1alpha1', 'Feedback'), review('Feedback'));
    expect(patched.response).toMatchObject({ uid: 'u1', allowed: true, patchType: 'JSONPatch' });
    expect(JSON.parse(Buffer.from(patched.response.patch, 'base64').toString())).toEqual([{ op: 'add', path: '/spec/reporter', value: 'alice' }]);
  } finally {
    await server.close();
  }
});
