// Installs (or updates) the three CRDs and waits until the API server serves them. Used by the
// embedded local control plane and the tests; clusters use `make install` / the Helm chart.
import { customResourceDefinition, KINDS } from '../api/schema/crds.js';
import { isAlreadyExists, type KubeRest } from './rest.js';

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

interface CRD {
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

export async function installCRDs(rest: KubeRest, timeoutMs = 30000): Promise<void> {
  for (const def of KINDS) {
    const crd = customResourceDefinition(def) as unknown as CRD;
    try {
      await rest.create(CRD_PATH, crd);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const current = await rest.get<CRD>(`${CRD_PATH}/${crd.metadata.name}`);
      await rest.replace(`${CRD_PATH}/${crd.metadata.name}`, {
        ...crd,
        metadata: { ...crd.metadata, resourceVersion: current.metadata.resourceVersion },
      });
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const def of KINDS) {
    const name = (customResourceDefinition(def) as unknown as CRD).metadata.name;
    for (;;) {
      const crd = await rest.get<CRD>(`${CRD_PATH}/${name}`);
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
