import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Catalog } from '../../catalog/catalog.js';
import { StoreUnavailableError } from '../../store/store.js';
import { DNS_LABEL_PATTERN, FieldError, instanceBodySchema, registrationView, toRegistration, type InstanceBody } from './instance-body.js';
import type { RestRegistry } from './registry.js';
import type { Access, Verdict } from './access.js';
import { registrationProblem } from './registration-rules.js';
import { zoneConflict, type StaticNames } from './zone-conflicts.js';
import { policyBodySchema, toPolicy, type PolicyBody } from './policy-body.js';
import { instanceState } from '../../catalog/types.js';
import { splitView } from '../../catalog/split-view.js';
import { firstAnswerShares, planAnswers } from '../../answers/answer-plan.js';
import type { SoftWeight } from '../../answers/soft-weight.js';

export interface RestRoutesOptions {
  registry: RestRegistry;
  catalog: Catalog;
  access: Access;
  logger: Logger;
  onStoreError?: (operation: string) => void;
  /** The mesh zones (keys): every name built from a registration must fit in each. */
  zoneKeys: readonly string[];
  /** Zone-file names, which a registration may not collide with. */
  statics: StaticNames;
  /** How probe scores shade weights, and what panic answers: the answer plan's settings. */
  soft?: SoftWeight;
  allUnhealthy?: 'serve-all' | 'serve-none';
  /** Every write answered, accepted or refused (the metric of writes by status). */
  onWrite?: (method: string, status: number) => void;
  /** --cluster-name: the cluster of instances that name none. */
  clusterName?: string;
  /** Each watched cluster's sync state (GET /v1/clusters); absent without Kubernetes. */
  clusters?: () => readonly { name: string; local: boolean; synced: boolean; connected: boolean; lastSync: number }[];
}

interface InstanceParams {
  ns: string;
  svc: string;
  id: string;
}

const label = { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 } as const;
const instanceParams = { type: 'object', required: ['ns', 'svc', 'id'], properties: { ns: label, svc: label, id: label } } as const;
const serviceParams = { type: 'object', required: ['ns', 'svc'], properties: { ns: label, svc: label } } as const;

function problem(reply: FastifyReply, status: number, error: string, message: string): FastifyReply {
  return reply.code(status).send({ error, message });
}

async function refuse(reply: FastifyReply, verdict: Extract<Verdict, { ok: false }>): Promise<void> {
  if (verdict.status === 401) reply.header('www-authenticate', 'Bearer');
  await problem(reply, verdict.status, verdict.status === 401 ? 'unauthorized' : 'forbidden', verdict.message);
}

/** The check in front of every read (the API and the console): tokens with read access, --api-read-auth. */
export function readCheck(access: Access): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (req, reply) => {
    const verdict = access.read(req.headers.authorization);
    if (!verdict.ok) await refuse(reply, verdict);
  };
}

/** The registration API (docs/rest-api.md). */
export function registerRestRoutes(app: FastifyInstance, opts: RestRoutesOptions): void {
  const { registry, catalog, access, logger } = opts;
  /** Which token made each write, for its audit line (never the secret). */
  const writers = new WeakMap<FastifyRequest, string | undefined>();


  const authorize = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const { ns, svc } = req.params as { ns: string; svc: string };
    const verdict = access.write(req.headers.authorization, req.socket.remoteAddress, ns, svc);
    writers.set(req, verdict.token);
    if (!verdict.ok) await refuse(reply, verdict);
  };

  const mayRead = readCheck(access);

  // One audit line per write, accepted or refused: token name (never the token), client, method, path, status.
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || !req.url.startsWith('/v1/')) return;
    opts.onWrite?.(req.method, reply.statusCode);
    logger.info(
      { audit: 'write', token: writers.get(req) ?? null, client: req.socket.remoteAddress, method: req.method, path: req.url.split('?')[0], status: reply.statusCode },
      'API write',
    );
  });

  const storeErrors = (reply: FastifyReply, err: unknown): FastifyReply => {
    if (err instanceof StoreUnavailableError) {
      opts.onStoreError?.(reply.request.method === 'DELETE' ? 'delete' : reply.request.url.endsWith('/heartbeat') ? 'heartbeat' : 'put');
      logger.warn({ err: err.message }, 'registration store refused a write; answered 503');
      return problem(reply, 503, 'store_unavailable', err.message);
    }
    throw err;
  };

  app.put<{ Params: InstanceParams; Body: InstanceBody }>(
    '/v1/services/:ns/:svc/instances/:id',
    { schema: { params: instanceParams, body: instanceBodySchema }, preValidation: authorize },
    async (req, reply) => {
      const { ns, svc, id } = req.params;
      let registration;
      try {
        registration = toRegistration(ns, svc, id, req.body, Date.now(), registry.get(ns, svc, id));
        const invalid = registrationProblem(registration, opts.zoneKeys);
        if (invalid !== undefined) throw invalid;
      } catch (err) {
        if (err instanceof FieldError) return problem(reply, 400, 'invalid_body', err.message);
        throw err;
      }
      const conflict = zoneConflict(registration, opts.zoneKeys, opts.statics, catalog);
      if (conflict !== undefined) return problem(reply, 409, 'conflict', conflict);
      try {
        await registry.register(registration);
      } catch (err) {
        return storeErrors(reply, err);
      }
      logger.debug({ service: `${ns}/${svc}`, id, address: registration.address }, 'instance registered');
      return reply.code(200).send(registrationView(registration));
    },
  );

  app.delete<{ Params: InstanceParams }>('/v1/services/:ns/:svc/instances/:id', { schema: { params: instanceParams }, preValidation: authorize }, async (req, reply) => {
    const { ns, svc, id } = req.params;
    try {
      if (!(await registry.deregister(ns, svc, id))) return problem(reply, 404, 'not_found', `no REST instance ${id} in service ${ns}/${svc}`);
    } catch (err) {
      return storeErrors(reply, err);
    }
    logger.debug({ service: `${ns}/${svc}`, id }, 'instance deregistered');
    return reply.code(204).send();
  });

  app.put<{ Params: InstanceParams }>('/v1/services/:ns/:svc/instances/:id/heartbeat', { schema: { params: instanceParams }, preValidation: authorize }, async (req, reply) => {
    const { ns, svc, id } = req.params;
    try {
      if ((await registry.heartbeat(ns, svc, id)) === undefined) return problem(reply, 404, 'not_found', `no REST instance ${id} in service ${ns}/${svc}`);
    } catch (err) {
      return storeErrors(reply, err);
    }
    return reply.code(204).send();
  });

  app.put<{ Params: { ns: string; svc: string }; Body: PolicyBody }>(
    '/v1/services/:ns/:svc/policy',
    { schema: { params: serviceParams, body: policyBodySchema }, preValidation: authorize },
    async (req, reply) => {
      const { ns, svc } = req.params;
      let policy;
      try {
        policy = toPolicy(ns, svc, req.body ?? {});
      } catch (err) {
        if (err instanceof FieldError) return problem(reply, 400, 'invalid_body', err.message);
        throw err;
      }
      try {
        await registry.setPolicy(ns, svc, policy);
      } catch (err) {
        return storeErrors(reply, err);
      }
      logger.info({ service: `${ns}/${svc}`, policy }, 'traffic policy set');
      return reply.code(200).send(policy);
    },
  );

  app.get<{ Params: { ns: string; svc: string } }>('/v1/services/:ns/:svc/policy', { schema: { params: serviceParams }, preHandler: mayRead }, async (req) =>
    catalog.policyOf(`${req.params.ns}/${req.params.svc}`),
  );

  app.delete<{ Params: { ns: string; svc: string } }>('/v1/services/:ns/:svc/policy', { schema: { params: serviceParams }, preValidation: authorize }, async (req, reply) => {
    const { ns, svc } = req.params;
    try {
      await registry.deletePolicy(ns, svc);
    } catch (err) {
      return storeErrors(reply, err);
    }
    logger.info({ service: `${ns}/${svc}` }, 'traffic policy removed: defaults apply');
    return reply.code(204).send();
  });

  // Other methods on these paths are 405 naming the ones that work, not 404 (the path exists).
  allowOnly(app, '/v1/services/:ns/:svc/policy', ['GET', 'PUT', 'DELETE']);
  allowOnly(app, '/v1/services/:ns/:svc/instances/:id', ['PUT', 'DELETE']);
  allowOnly(app, '/v1/services/:ns/:svc/instances/:id/heartbeat', ['PUT']);
  allowOnly(app, '/v1/services/:ns/:svc', ['GET']);
  allowOnly(app, '/v1/services', ['GET']);

  const localCluster = opts.clusterName ?? 'local';
  // Each watched cluster and whether its API answers (a remote one that does not is still answered from its last state).
  app.get('/v1/clusters', { preHandler: mayRead }, async () => ({
    clusters: (opts.clusters?.() ?? []).map((c) => ({ ...c, lastSync: c.lastSync === 0 ? null : new Date(c.lastSync).toISOString() })),
  }));

  app.get('/v1/services', { preHandler: mayRead }, async () => {
    // Every service: those with instances, and those that so far have only a policy.
    const services = catalog.keys().map((key) => {
      const slash = key.indexOf('/');
      const instances = [...(catalog.getByKey(key)?.instances.values() ?? [])];
      const sources: Record<string, number> = {};
      for (const i of instances) sources[i.source] = (sources[i.source] ?? 0) + 1;
      const clusters: Record<string, number> = {};
      for (const i of instances) if (i.source !== 'zonefile') clusters[i.cluster ?? localCluster] = (clusters[i.cluster ?? localCluster] ?? 0) + 1;
      return {
        namespace: key.slice(0, slash),
        name: key.slice(slash + 1),
        instances: instances.length,
        healthy: instances.filter((i) => instanceState(i) === 'healthy').length,
        sources,
        clusters,
        ...(catalog.hasPolicy(key) ? { policy: catalog.policyOf(key) } : {}),
        ...(catalog.splitOf(key) === undefined ? {} : { split: splitView(catalog, key) }),
      };
    });
    return { services };
  });

  app.get<{ Params: { ns: string; svc: string } }>('/v1/services/:ns/:svc', { schema: { params: serviceParams }, preHandler: mayRead }, async (req, reply) => {
    const { ns, svc } = req.params;
    const key = `${ns}/${svc}`;
    const service = catalog.get(ns, svc);
    if (service === undefined && !catalog.hasPolicy(key) && catalog.splitOf(key) === undefined && !catalog.isDeclared(key)) return problem(reply, 404, 'not_found', `no service ${ns}/${svc}`);
    // The same plan DNS answers from: each instance's share of first answers, panic, failover.
    const plan = planAnswers({ catalog, soft: opts.soft, allUnhealthy: opts.allUnhealthy }, key);
    const shares = firstAnswerShares(plan);
    const instances = [...(service?.instances.values() ?? [])].map((i) => {
      const stored = i.source === 'rest' ? registry.get(ns, svc, i.id) : undefined;
      return {
        ...(stored ? registrationView(stored) : {}),
        id: i.id,
        source: i.source,
        address: i.address,
        ports: i.ports,
        weight: i.weight,
        ...(i.zone === undefined ? {} : { zone: i.zone }),
        ...(i.hintZones === undefined ? {} : { hintZones: i.hintZones }),
        ...(i.source === 'zonefile' ? {} : { cluster: i.cluster ?? localCluster }),
        state: instanceState(i),
        share: Number((shares.get(i) ?? 0).toFixed(4)),
        health: i.health,
        ...(i.probe === undefined ? {} : { probeHealthy: i.probe.healthy, score: i.probe.score }),
        lastProbe:
          i.probe?.lastResult === undefined
            ? null
            : { ok: i.probe.lastResult.ok, result: i.probe.lastResult.detail, at: new Date(i.probe.lastResult.at).toISOString(), durationMs: i.probe.lastResult.durationMs },
      };
    });
    const answeredBy = plan.failoverTo;
    const split = splitView(catalog, key);
    return {
      namespace: ns,
      name: svc,
      policy: catalog.policyOf(key),
      policySource: catalog.policySource(key) ?? 'default',
      ...(answeredBy === undefined ? {} : { failover: { answeredBy } }),
      ...(plan.panic ? { panic: true } : {}),
      ...(split === undefined ? {} : { split }),
      instances,
    };
  });
}

const METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;

/** Answers 405 with an Allow header for every method a path does not take (HEAD follows GET where GET is allowed). */
function allowOnly(app: FastifyInstance, url: string, allowed: readonly (typeof METHODS)[number][]): void {
  const others = METHODS.filter((m) => !allowed.includes(m));
  const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
  app.route({
    method: allowed.includes('GET') ? others : [...others, 'HEAD'],
    url,
    handler: async (req, reply) =>
      problem(reply.header('allow', allow.join(', ')), 405, 'method_not_allowed', `${req.method} is not allowed on ${url}; use ${allow.join(', ')}`),
  });
  // OPTIONS says what the path takes (RFC 9110 §9.3.7) rather than 404 for a path that exists.
  app.route({ method: 'OPTIONS', url, handler: async (_req, reply) => reply.code(204).header('allow', [...allow, 'OPTIONS'].join(', ')).send() });
}
