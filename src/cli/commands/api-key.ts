// `server api-key create --service-account SA` and `server api-key revoke ID` (-n: the server's
// --api-key-namespace): a pxk_ key is a Secret holding the SHA-256 of its secret part and the
// ServiceAccount it acts as (src/server/api-keys.ts). create prints the key once, to stdout (it is
// stored nowhere), and how to revoke it to stderr; revoke deletes the Secret. RBAC on Secrets in
// that namespace decides who may do either.
import { Command } from 'commander';
import { keySecretName, newApiKey } from '../../server/api-keys.js';
import { action } from '../context.js';
import { request, withTarget, type GlobalFlags } from '../kube.js';

export function apiKeyCommand(): Command {
  const keys = new Command('api-key').description('pxk_ API keys for the gateway: each a Secret standing for a ServiceAccount of its namespace (docs/gateway.md)');
  keys
    .command('create')
    .description('make a key acting as a ServiceAccount of the namespace; prints the key, which is stored nowhere')
    .requiredOption('--service-account <name>', 'the ServiceAccount the key acts as (the RBAC bound to it decides)')
    .action(
      action<GlobalFlags & { serviceAccount: string }>(({ ctx, opts }) =>
        withTarget(opts, async (target) => {
          const ns = target.namespace;
          const made = newApiKey(ns, opts.serviceAccount);
          await request(target, { verb: 'create', resource: 'secrets', namespace: ns }, (rest) => rest.create(`/api/v1/namespaces/${ns}/secrets`, made.secret));
          ctx.io.out(made.key);
          ctx.io.err(`key ${made.id} acts as ServiceAccount ${ns}/${opts.serviceAccount}; revoke it with: ${ctx.displayName} server api-key revoke ${made.id} -n ${ns}`);
        }),
      ),
    );
  keys
    .command('revoke <id>')
    .description('delete a key (the server forgets it within a minute; deleting its ServiceAccount ends it at once)')
    .action(
      action<GlobalFlags>(({ ctx, opts }, id) =>
        withTarget(opts, async (target) => {
          const ns = target.namespace;
          await request(target, { verb: 'delete', resource: 'secrets', object: `API key ${id}`, namespace: ns }, (rest) => rest.delete(`/api/v1/namespaces/${ns}/secrets/${keySecretName(id)}`));
          ctx.io.out(`key ${id} revoked`);
        }),
      ),
    );
  return keys;
}
