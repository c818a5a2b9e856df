// Who am I, and the login form's cookie. POST /login checks the pasted token with the API server
// (TokenReview) before it becomes an HttpOnly, SameSite=Strict cookie, and needs the CSRF header
// like every cookie request that changes state, so no other site can log a browser in as someone else.
import { checkCsrf, setTokenCookie } from '../auth.js';
import type { ServerExtension } from '../extension.js';

export const sessionApi = (mode: 'forward' | 'kubeconfig', namespace: string): ServerExtension => ({
  name: 'session',
  mount(_router, ctx) {
    ctx.route({
      method: 'get',
      path: '/whoami',
      tag: 'session',
      summary: 'The Kubernetes user the server acts as for you, and the namespace the page starts in',
      handle: async (req) => ({ user: req.caller!.user, groups: req.caller!.groups, mode, namespace }),
    });
    if (mode !== 'forward') return;
    ctx.route({
      method: 'post',
      path: '/login',
      tag: 'session',
      summary: 'Check a Kubernetes token and keep it in an HttpOnly cookie (needs the X-Parallax-CSRF header)',
      public: true,
      body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: 16384 } } },
      handle: async (req, res) => {
        checkCsrf(req);
        const { token } = req.body as { token: string };
        const who = await ctx.auth.identify(token);
        setTokenCookie(req, res, token);
        return { user: who.user, groups: who.groups, mode, namespace };
      },
    });
    ctx.route({
      method: 'post',
      path: '/logout',
      tag: 'session',
      summary: 'Forget the login cookie',
      public: true,
      handle: async (req, res) => {
        checkCsrf(req);
        setTokenCookie(req, res, undefined);
        return {};
      },
    });
  },
});
