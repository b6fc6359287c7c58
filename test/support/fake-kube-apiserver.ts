import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A Kubernetes API server double that speaks the real list/watch protocol
 * over HTTP, enough for @kubernetes/client-node and meshdns's reflectors:
 *   - list: {kind: XList, metadata: {resourceVersion, continue}, items}, with limit/continue paging from a snapshot
 *   - watch=true: JSON lines of {type: ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, object} from a resourceVersion,
 *     replaying retained history first; an expired resourceVersion gets an ERROR event with a 410 Status
 *   - allowWatchBookmarks, timeoutSeconds, labelSelector (=, ==, !=, exists, !exists, in, notin)
 *   - API discovery (/api, /apis, /apis/{group}, /apis/{group}/{version}) for the built-in groups and any
 *     custom resources installed (as a CRD would add them), cluster-scoped Nodes
 * with controls to change objects, install and remove CRDs, drop every watch, expire history, fail requests
 * and stop/restart.
 */

/** services, endpointslices, pods, nodes, or `<plural>.<group>` of an installed custom resource. */
export type Resource = string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API objects of several kinds, built by tests
export type KubeObject = { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; uid?: string; creationTimestamp?: string; managedFields?: unknown[] }; [k: string]: any };

/** A custom resource as its CRD defines it. */
export interface CustomResource {
  readonly group: string;
  /** Served versions, the storage (preferred) one first. */
  readonly versions: readonly string[];
  readonly kind: string;
  readonly plural: string;
  readonly namespaced?: boolean;
}

/** The mesh CRDs meshdns follows, as their projects install them. */
export const MESH_CRDS = {
  httproutes: { group: 'gateway.networking.k8s.io', versions: ['v1', 'v1beta1'], kind: 'HTTPRoute', plural: 'httproutes' },
  linkerdHttproutes: { group: 'policy.linkerd.io', versions: ['v1beta3', 'v1beta2'], kind: 'HTTPRoute', plural: 'httproutes' },
  trafficsplits: { group: 'split.smi-spec.io', versions: ['v1alpha4', 'v1alpha2'], kind: 'TrafficSplit', plural: 'trafficsplits' },
  virtualservices: { group: 'networking.istio.io', versions: ['v1', 'v1beta1'], kind: 'VirtualService', plural: 'virtualservices' },
  destinationrules: { group: 'networking.istio.io', versions: ['v1', 'v1beta1'], kind: 'DestinationRule', plural: 'destinationrules' },
  grpcroutes: { group: 'gateway.networking.k8s.io', versions: ['v1'], kind: 'GRPCRoute', plural: 'grpcroutes' },
  referencegrants: { group: 'gateway.networking.k8s.io', versions: ['v1beta1'], kind: 'ReferenceGrant', plural: 'referencegrants' },
} satisfies Record<string, CustomResource>;

/** The resource name objects of a custom resource are stored under: `<plural>.<group>`, as the CRD is named. */
export const crdResource = (c: CustomResource): Resource => `${c.plural}.${c.group}`;

interface Event {
  rv: number;
  resource: Resource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

interface WatchStream {
  resource: Resource;
  namespace: string | undefined;
  selector: (labels: Record<string, string> | undefined) => boolean;
  res: ServerResponse;
}

const BUILT_IN: Record<string, { kind: string; apiVersion: string }> = {
  services: { kind: 'Service', apiVersion: 'v1' },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1' },
  pods: { kind: 'Pod', apiVersion: 'v1' },
  nodes: { kind: 'Node', apiVersion: 'v1' },
};

const keyOf = (o: KubeObject): string => (o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`);

export function parseLabelSelector(text: string | null): (labels: Record<string, string> | undefined) => boolean {
  if (text === null || text.trim() === '') return () => true;
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  parts.push(cur.trim());
  const tests = parts.map((p) => {
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      return (l: Record<string, string>) => (op === 'in' ? key in l && values.has(l[key]!) : !(key in l) || !values.has(l[key]!));
    }
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(p))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return (l: Record<string, string>) => (op === '!=' ? l[key] !== value : l[key] === value);
    }
    if ((m = /^!([\w./-]+)$/.exec(p))) return (l: Record<string, string>) => !(m![1]! in l);
    if ((m = /^([\w./-]+)$/.exec(p))) return (l: Record<string, string>) => m![1]! in l;
    throw new Error(`bad label selector "${p}"`);
  });
  return (labels) => tests.every((t) => t(labels ?? {}));
}

export class FakeKubeApiServer {
  private readonly objects = new Map<Resource, Map<string, KubeObject>>(Object.keys(BUILT_IN).map((r) => [r, new Map()]));
  /** Installed custom resources by resource name. */
  private readonly crds = new Map<Resource, CustomResource>();
  private history: Event[] = [];
  /** Watches from a resourceVersion below this get 410 Gone. */
  private oldestRv = 0;
  private rv = 100;
  private server: Server | undefined;
  private readonly watches = new Set<WatchStream>();
  private readonly sockets = new Set<Socket>();
  private snapshots = new Map<string, KubeObject[]>();
  private failing = 0;
  bookmarkIntervalMs = 500;
  /** Requests seen, by "METHOD path?query", for assertions. */
  readonly requests: string[] = [];
  port = 0;

  static async start(): Promise<FakeKubeApiServer> {
    const s = new FakeKubeApiServer();
    await s.listen(0);
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig file pointing at this server (plain HTTP, no credentials). */
  kubeconfig(): string {
    const path = join(mkdtempSync(join(tmpdir(), 'meshdns-kube-')), 'kubeconfig');
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake`,
        `  cluster: {server: "${this.url}", insecure-skip-tls-verify: true}`,
        'users:',
        '- name: tester',
        '  user: {token: test-token}',
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: tester}',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return path;
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  // ---- controls -------------------------------------------------------

  private store(resource: Resource): Map<string, KubeObject> {
    const map = this.objects.get(resource);
    if (map === undefined) throw new Error(`resource ${resource} is not served (install its CRD first)`);
    return map;
  }

  private typeOf(resource: Resource): { kind: string; apiVersion: string } {
    const crd = this.crds.get(resource);
    return crd === undefined ? BUILT_IN[resource]! : { kind: crd.kind, apiVersion: `${crd.group}/${crd.versions[0]}` };
  }

  apply(resource: Resource, object: KubeObject): KubeObject {
    const objects = this.store(resource);
    const key = keyOf(object);
    const previous = objects.get(key);
    const stored: KubeObject = {
      ...this.typeOf(resource),
      ...structuredClone(object),
      metadata: {
        ...structuredClone(object.metadata),
        resourceVersion: String(++this.rv),
        uid: previous?.metadata.uid ?? `uid-${this.rv}`,
        creationTimestamp: object.metadata.creationTimestamp ?? previous?.metadata.creationTimestamp ?? new Date(Date.UTC(2026, 0, 1) + this.rv * 1000).toISOString(),
      },
    };
    objects.set(key, stored);
    this.publish({ rv: this.rv, resource, type: previous !== undefined ? 'MODIFIED' : 'ADDED', object: stored });
    return stored;
  }

  remove(resource: Resource, namespace: string | undefined, name: string): void {
    const objects = this.store(resource);
    const key = namespace === undefined ? name : `${namespace}/${name}`;
    const existing = objects.get(key);
    if (existing === undefined) return;
    objects.delete(key);
    const object = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(++this.rv) } };
    this.publish({ rv: this.rv, resource, type: 'DELETED', object });
  }

  /** Serves a custom resource from now on, as creating its CRD does (discovery shows it at once). */
  installCrd(crd: CustomResource): Resource {
    const resource = crdResource(crd);
    this.crds.set(resource, crd);
    if (!this.objects.has(resource)) this.objects.set(resource, new Map());
    return resource;
  }

  /** Deletes a CRD: its objects are deleted (watchers see DELETED), then it is no longer served. */
  removeCrd(crd: CustomResource): void {
    const resource = crdResource(crd);
    for (const o of [...(this.objects.get(resource)?.values() ?? [])]) this.remove(resource, o.metadata.namespace, o.metadata.name);
    for (const w of [...this.watches]) if (w.resource === resource) w.res.end();
    this.crds.delete(resource);
    this.objects.delete(resource);
  }

  /** Ends every open watch stream abruptly, as a restarting API server or a load balancer would. */
  dropWatches(): void {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
  }

  /** Forgets all history (etcd compaction): any watch from an older resourceVersion now gets 410 Gone. */
  expireHistory(): void {
    this.history = [];
    this.oldestRv = this.rv + 1;
  }

  /** The next n requests get 500. */
  failRequests(n: number): void {
    this.failing = n;
  }

  watchCount(): number {
    return this.watches.size;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((r) => server.close(r));
  }

  /** Comes back on the same port with the same objects (history is kept, as etcd keeps it). */
  async restart(): Promise<void> {
    await this.listen(this.port);
  }

  // ---- protocol -------------------------------------------------------

  private publish(event: Event): void {
    this.history.push(event);
    if (this.history.length > 10_000) {
      this.history.shift();
      this.oldestRv = this.history[0]!.rv;
    }
    for (const w of this.watches) {
      if (w.resource === event.resource && this.visible(w.namespace, w.selector, event.object)) this.send(w.res, { type: event.type, object: event.object });
    }
  }

  private visible(namespace: string | undefined, selector: WatchStream['selector'], o: KubeObject): boolean {
    return (namespace === undefined || o.metadata.namespace === namespace) && selector(o.metadata.labels);
  }

  private send(res: ServerResponse, event: unknown): void {
    // A stream ended (CRD removed, watch timeout) may still see a bookmark tick before its 'close'.
    if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify(event) + '\n');
  }

  private route(path: string): { resource: Resource; namespace: string | undefined } | undefined {
    const m =
      /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?(services|pods)$/.exec(path) ??
      /^\/api\/v1\/()(nodes)$/.exec(path) ??
      /^\/apis\/discovery\.k8s\.io\/v1\/(?:namespaces\/([^/]+)\/)?(endpointslices)$/.exec(path);
    if (m) return { namespace: m[1] || undefined, resource: m[2]! };
    const c = /^\/apis\/([^/]+)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)$/.exec(path);
    if (!c) return undefined;
    const resource = `${c[4]}.${c[1]}`;
    const crd = this.crds.get(resource);
    if (crd === undefined || !crd.versions.includes(c[2]!)) return undefined;
    return { namespace: c[3], resource };
  }

  /** /api, /apis, /apis/{group}, /apis/{group}/{version}: what kubectl and client libraries discover. */
  private discovery(path: string): unknown {
    if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    const groups = new Map<string, string[]>([['discovery.k8s.io', ['v1']]]);
    for (const crd of this.crds.values()) groups.set(crd.group, [...new Set([...(groups.get(crd.group) ?? []), ...crd.versions])]);
    const group = (name: string, versions: string[]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    });
    if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups].map(([n, v]) => group(n, v)) };
    const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (!m || !groups.has(m[1]!)) return undefined;
    if (m[2] === undefined) return { kind: 'APIGroup', apiVersion: 'v1', ...group(m[1]!, groups.get(m[1]!)!) };
    if (!groups.get(m[1]!)!.includes(m[2])) return undefined;
    const resource = (name: string, kind: string, namespaced: boolean) => ({ name, singularName: kind.toLowerCase(), namespaced, kind, verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] });
    const resources =
      m[1] === 'discovery.k8s.io'
        ? [resource('endpointslices', 'EndpointSlice', true)]
        : [...this.crds.values()].filter((c) => c.group === m[1] && c.versions.includes(m[2]!)).map((c) => resource(c.plural, c.kind, c.namespaced ?? true));
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${m[1]}/${m[2]}`, resources };
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (this.failing > 0) {
      this.failing--;
      return this.status(res, 500, 'InternalError', 'injected failure');
    }
    const found = req.method === 'GET' ? this.discovery(url.pathname) : undefined;
    if (found !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found));
      return;
    }
    const route = this.route(url.pathname);
    if (req.method !== 'GET' || route === undefined) return this.status(res, 404, 'NotFound', `no route ${url.pathname}`);
    let selector;
    try {
      selector = parseLabelSelector(url.searchParams.get('labelSelector'));
    } catch (err) {
      return this.status(res, 400, 'BadRequest', (err as Error).message);
    }
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') return this.watch(url, route.resource, route.namespace, selector, res);
    return this.list(url, route.resource, route.namespace, selector, res);
  }

  private list(url: URL, resource: Resource, namespace: string | undefined, selector: WatchStream['selector'], res: ServerResponse): void {
    const token = url.searchParams.get('continue');
    let items: KubeObject[];
    let rv: string;
    if (token) {
      const snap = this.snapshots.get(token);
      if (snap === undefined) return this.status(res, 410, 'Expired', 'the continue token has expired');
      items = snap;
      rv = token.split(':')[0]!;
    } else {
      items = [...this.store(resource).values()].filter((o) => this.visible(namespace, selector, o));
      rv = String(this.rv);
    }
    const limit = Number(url.searchParams.get('limit') ?? 0);
    let page = items;
    let next = '';
    if (limit > 0 && items.length > limit) {
      page = items.slice(0, limit);
      next = `${rv}:${Math.random().toString(36).slice(2)}`;
      this.snapshots.set(next, items.slice(limit));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: `${this.typeOf(resource).kind}List`, apiVersion: this.typeOf(resource).apiVersion, metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) }, items: page }));
  }

  private watch(url: URL, resource: Resource, namespace: string | undefined, selector: WatchStream['selector'], res: ServerResponse): void {
    const from = Number(url.searchParams.get('resourceVersion') || this.rv);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < this.oldestRv - 1) {
      // What kube-apiserver sends for a compacted resourceVersion.
      this.send(res, {
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.oldestRv})`, reason: 'Expired', code: 410 },
      });
      res.end();
      return;
    }
    const stream: WatchStream = { resource, namespace, selector, res };
    for (const e of this.history) {
      if (e.rv > from && e.resource === resource && this.visible(namespace, selector, e.object)) this.send(res, { type: e.type, object: e.object });
    }
    this.watches.add(stream);
    const timers: NodeJS.Timeout[] = [];
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      timers.push(
        setInterval(() => this.send(res, { type: 'BOOKMARK', object: { ...this.typeOf(resource), metadata: { resourceVersion: String(this.rv) } } }), this.bookmarkIntervalMs),
      );
    }
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    if (timeout > 0) timers.push(setTimeout(() => res.end(), timeout * 1000));
    const cleanup = (): void => {
      for (const t of timers) clearTimeout(t);
      this.watches.delete(stream);
    };
    res.on('close', cleanup);
  }
}

// ---- object builders for tests ----------------------------------------

export function service(namespace: string, name: string, extra: Partial<KubeObject> & { annotations?: Record<string, string>; labels?: Record<string, string> } = {}): KubeObject {
  const { annotations, labels, ...rest } = extra;
  return { metadata: { namespace, name, annotations, labels }, spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }, ...rest };
}

export interface EndpointSpec {
  address: string;
  ready?: boolean | null;
  serving?: boolean;
  terminating?: boolean;
  hostname?: string;
  zone?: string;
  pod?: string;
}

export function endpointSlice(
  namespace: string,
  name: string,
  serviceName: string,
  endpoints: EndpointSpec[],
  opts: { addressType?: 'IPv4' | 'IPv6'; ports?: { name: string; port: number; protocol?: string }[]; annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): KubeObject {
  return {
    metadata: { namespace, name, labels: { 'kubernetes.io/service-name': serviceName, ...opts.labels }, annotations: opts.annotations },
    addressType: opts.addressType ?? 'IPv4',
    ports: (opts.ports ?? [{ name: 'http', port: 8080 }]).map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.address],
      conditions: { ...(e.ready === null ? {} : { ready: e.ready ?? true }), serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', namespace, name: e.pod } } : {}),
    })),
  };
}

export function pod(namespace: string, name: string, annotations: Record<string, string> = {}): KubeObject {
  return { metadata: { namespace, name, annotations }, spec: {}, status: {} };
}

export function node(name: string, zone: string | undefined, podCIDRs: string[]): KubeObject {
  return { metadata: { name, labels: zone === undefined ? {} : { 'topology.kubernetes.io/zone': zone } }, spec: { podCIDR: podCIDRs[0], podCIDRs } };
}

/** A GAMMA HTTPRoute: parentRef the Service `apex`, first rule's backendRefs the given Services and weights. */
export function httpRoute(namespace: string, name: string, apex: string, backends: [string, number | undefined][]): KubeObject {
  return {
    metadata: { namespace, name },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: apex, port: 80 }],
      // `svc.ns` names a Service in another namespace.
      rules: [{ backendRefs: backends.map(([svc, weight]) => ({ name: svc.split('.')[0], ...(svc.includes('.') ? { namespace: svc.split('.')[1] } : {}), port: 80, ...(weight === undefined ? {} : { weight }) })) }],
    },
  };
}

export function trafficSplit(namespace: string, name: string, apex: string, backends: [string, number | string][]): KubeObject {
  return { metadata: { namespace, name }, spec: { service: apex, backends: backends.map(([service, weight]) => ({ service, weight })) } };
}

export function virtualService(namespace: string, name: string, hosts: string[], route: [string, number | undefined][], extra: Record<string, unknown> = {}): KubeObject {
  return {
    metadata: { namespace, name },
    spec: { hosts, ...extra, http: [{ route: route.map(([host, weight]) => ({ destination: { host }, ...(weight === undefined ? {} : { weight }) })) }] },
  };
}

export function destinationRule(namespace: string, name: string, host: string, simple: string | undefined): KubeObject {
  return { metadata: { namespace, name }, spec: { host, ...(simple === undefined ? {} : { trafficPolicy: { loadBalancer: { simple } } }) } };
}
