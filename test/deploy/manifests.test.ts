import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot, runtimeEnv, runtimeNodeFlags } from '../support/meshdns-process.js';
import { MESH_APIS, SERVICE_IMPORT_API } from '../../src/sources/kubernetes/mesh-apis.js';
import { runInNamespace, waitForDns } from '../support/netns.js';

const dir = join(repoRoot, 'deploy', 'kubernetes');
const OVERLAYS = ['sqlite', 'etcd'] as const;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes manifests, checked field by field below
type Doc = any;

function load(file: string): Doc[] {
  return parseDocs(readFileSync(file, 'utf8'), file);
}

function parseDocs(text: string, where: string): Doc[] {
  const docs = parseAllDocuments(text);
  for (const d of docs) assert.deepEqual(d.errors, [], `${where}: ${d.errors.join(', ')}`);
  return docs.map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

/** What `kubectl apply -k` would send: the overlay rendered by kubectl's own kustomize. */
function render(overlay: (typeof OVERLAYS)[number]): Doc[] {
  const out = execFileSync('kubectl', ['kustomize', join(dir, 'overlays', overlay)], { encoding: 'utf8' });
  return parseDocs(out, `kubectl kustomize overlays/${overlay}`);
}

/** An overlay beside the shipped ones that adds the optional components, as a user would write it. */
function mkComponentOverlay(): string {
  const overlay = mkdtempSync(join(tmpdir(), 'meshdns-overlay-'));
  const components = ['pod-weights', 'service-monitor', 'prometheus-rule', 'grafana-dashboard', 'hpa', 'https', 'remote-clusters'].map((c) => relative(overlay, join(dir, 'components', c)));
  writeFileSync(join(overlay, 'kustomization.yaml'), `resources: [${relative(overlay, join(dir, 'overlays', 'sqlite'))}]\ncomponents: [${components.join(', ')}]\n`);
  return overlay;
}

const rendered = new Map(OVERLAYS.map((o) => [o, render(o)]));
const byKind = (kind: string, overlay: (typeof OVERLAYS)[number] = 'sqlite'): Doc => rendered.get(overlay)!.find((d) => d.kind === kind);

test('every overlay renders with kubectl kustomize; the config is generated, so an edit rolls the pods', () => {
  for (const overlay of OVERLAYS) {
    const kinds = rendered.get(overlay)!.map((d) => d.kind).sort();
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount']);
    const cm = byKind('ConfigMap', overlay);
    assert.match(cm.metadata.name, /^meshdns-[a-z0-9]{10}$/, 'configMapGenerator names the ConfigMap by a hash of its content');
    const volumes = byKind('Deployment', overlay).spec.template.spec.volumes.filter((v: Doc) => v.configMap);
    assert.ok(volumes.length > 0 && volumes.every((v: Doc) => v.configMap.name === cm.metadata.name), 'the Deployment mounts the generated ConfigMap');
    for (const d of rendered.get(overlay)!) if (d.kind !== 'Namespace' && d.kind !== 'ClusterRole' && d.kind !== 'ClusterRoleBinding') assert.equal(d.metadata.namespace, 'meshdns', `${d.kind} namespace`);
  }
  // RBAC is what the reflector calls (list, watch); Pods only through the pod-weights component, with its flag.
  assert.deepEqual(byKind('ClusterRole').rules.map((r: Doc) => `${r.apiGroups}/${r.resources}:${r.verbs}`), [
    '/services:list,watch',
    'discovery.k8s.io/endpointslices:list,watch',
    '/nodes:get,list,watch',
    '/pods:list,watch',
    'gateway.networking.k8s.io,policy.linkerd.io/httproutes:get,list,watch',
    'gateway.networking.k8s.io/grpcroutes,referencegrants:get,list,watch',
    'split.smi-spec.io/trafficsplits:get,list,watch',
    'networking.istio.io/virtualservices,destinationrules:get,list,watch',
    'multicluster.x-k8s.io/serviceimports:get,list,watch',
  ]);
  // Every group and resource meshdns follows is granted (the source's own list, so a new kind cannot be forgotten).
  for (const api of [...MESH_APIS, SERVICE_IMPORT_API]) assert.ok(byKind('ClusterRole').rules.some((r: Doc) => r.apiGroups.includes(api.group) && r.resources.includes(api.plural)), api.kind);
  const withPods = parseDocs(
    execFileSync('kubectl', ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(mkComponentOverlay(), '.')], { encoding: 'utf8' }),
    'overlay with components/pod-weights',
  );
  assert.ok(withPods.find((d) => d.kind === 'ClusterRole').rules.some((r: Doc) => r.resources.includes('pods')));
  assert.ok(withPods.find((d) => d.kind === 'Deployment').spec.template.spec.containers[0].args.includes('--kubernetes-pod-weights=on'));
  assert.equal(withPods.find((d) => d.kind === 'ServiceMonitor').spec.endpoints[0].port, 'http');
  assert.equal(withPods.find((d) => d.kind === 'HorizontalPodAutoscaler').spec.scaleTargetRef.name, 'meshdns');
  // HTTPS from cert-manager: the Certificate's Secret is what the TLS flags read.
  const httpsPod = withPods.find((d) => d.kind === 'Deployment').spec.template.spec;
  assert.equal(withPods.find((d) => d.kind === 'Certificate').spec.secretName, httpsPod.volumes.find((v: Doc) => v.name === 'https').secret.secretName);
  assert.ok(httpsPod.containers[0].args.includes('--http-tls-cert=/etc/meshdns/https/tls.crt'));
  assert.equal(httpsPod.containers[0].readinessProbe.httpGet.scheme, 'HTTPS');
  // The etcd overlay's TLS flags name files that its Secret volume provides.
  const etcdPod = byKind('Deployment', 'etcd').spec.template.spec;
  const etcdMount = etcdPod.containers[0].volumeMounts.find((m: Doc) => m.name === 'etcd-client');
  const etcdItems = etcdPod.volumes.find((v: Doc) => v.name === 'etcd-client').secret.items.map((i: Doc) => `${etcdMount.mountPath}/${i.path}`);
  for (const flag of ['--etcd-ca=', '--etcd-cert=', '--etcd-key=']) {
    const arg = (etcdPod.containers[0].args as string[]).find((a) => a.startsWith(flag))!;
    assert.ok(etcdItems.includes(arg.slice(flag.length)), `${arg} is mounted`);
  }
  const etcdArgs = byKind('Deployment', 'etcd').spec.template.spec.containers[0].args as string[];
  assert.ok(etcdArgs.includes('--store=etcd') && etcdArgs.some((a) => a.startsWith('--etcd=')), 'the etcd overlay patches flags onto the base');
  load(join(repoRoot, 'deploy', 'pod-dnsconfig.yaml'));
});

/**
 * Validates an object against the Kubernetes OpenAPI schemas (kubernetes-models; the Prometheus Operator's for
 * ServiceMonitor): a misspelled field or a wrong type fails here rather than at `kubectl apply`.
 */
async function validateObject(d: Doc): Promise<void> {
  const [group, version] = (d.apiVersion as string).includes('/') ? (d.apiVersion as string).split('/') : ['', d.apiVersion as string];
  const packages: Record<string, string> = { 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator', 'cert-manager.io': '@kubernetes-models/cert-manager' };
  const module = group in packages ? `${packages[group]}/${group}/${version}/${d.kind}` : `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${d.kind}`;
  const Model = ((await import(module)) as Record<string, new (data: unknown) => { validate(): void }>)[d.kind as string]!;
  new Model(d).validate();
}

test('every rendered object, optional components included, validates against the Kubernetes schemas', async () => {
  const objects = [...rendered.values()].flat();
  objects.push(...parseDocs(execFileSync('kubectl', ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', mkComponentOverlay()], { encoding: 'utf8' }), 'components'));
  objects.push(...load(join(repoRoot, 'deploy', 'pod-dnsconfig.yaml')));
  objects.push(...parseDocs(execFileSync('kubectl', ['kustomize', join(repoRoot, 'deploy', 'kubernetes', 'remote')], { encoding: 'utf8' }), 'remote'));
  for (const d of objects) {
    await assert.doesNotReject(validateObject(d), `${d.kind} ${d.metadata?.name}`);
  }
  // And the check bites: a string where an integer belongs.
  const broken = structuredClone(byKind('Deployment'));
  broken.spec.template.spec.containers[0].ports[0].containerPort = '1053';
  await assert.rejects(validateObject(broken), /containerPort must be integer/);
});

test('scheduled and rolled out as critical DNS: priority, zone spread, one pod at a time, probes with timeouts', () => {
  const d = byKind('Deployment');
  const pod = d.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(pod.priorityClassName, 'system-cluster-critical');
  assert.equal(pod.topologySpreadConstraints[0].topologyKey, 'topology.kubernetes.io/zone');
  assert.equal(d.spec.strategy.rollingUpdate.maxUnavailable, 1);
  for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) assert.ok(probe.timeoutSeconds > 0);
  assert.equal(c.securityContext.capabilities.add, undefined, 'NET_BIND_SERVICE does nothing for a non-root process');
  // Room for the default 5 s lame duck and the drain (at most 8 s) before the kubelet's SIGKILL.
  assert.ok(pod.terminationGracePeriodSeconds >= 13, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}`);
});

test('the Deployment is hardened: 2 replicas, anti-affinity, probes, resources, non-root, read-only root', () => {
  const d = byKind('Deployment');
  const pod = d.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(d.spec.replicas, 2);
  assert.ok(pod.affinity.podAntiAffinity);
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(pod.serviceAccountName, byKind('ServiceAccount').metadata.name);
});

test('ports agree: config listener = containerPort = Service targetPort; Service port 53 = Corefile and dnsConfig', () => {
  const config = byKind('ConfigMap').data['config.yaml'];
  const listen = /dns: \["0\.0\.0\.0:(\d+)", "\[::\]:(\d+)"\]/.exec(config)![1];
  const http = /http: "0\.0\.0\.0:(\d+)"/.exec(config)![1];
  const ports = byKind('Deployment').spec.template.spec.containers[0].ports as { name: string; containerPort: number; protocol: string }[];
  const byName = new Map(ports.map((p) => [p.name, p]));
  assert.equal(String(byName.get('dns-udp')!.containerPort), listen);
  assert.equal(String(byName.get('dns-tcp')!.containerPort), listen);
  assert.equal(String(byName.get('http')!.containerPort), http);
  const svc = byKind('Service');
  const services = rendered.get('sqlite')!.filter((d) => d.kind === 'Service');
  for (const p of services.flatMap((x) => x.spec.ports)) assert.ok(byName.has(p.targetPort), `targetPort ${p.targetPort}`);
  const admin = services.find((x) => x.metadata.name === 'meshdns-admin');
  assert.deepEqual(admin.spec.ports.map((p: Doc) => p.port), [8053]);
  assert.equal(admin.metadata.annotations['prometheus.io/scrape'], 'true');
  const dnsPorts = svc.spec.ports.filter((p: { name: string }) => p.name.startsWith('dns'));
  assert.deepEqual(dnsPorts.map((p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`).sort(), ['53/TCP', '53/UDP']);
  for (const snippet of ['Corefile.snippet', 'nodelocaldns.snippet']) {
    const text = readFileSync(join(repoRoot, 'deploy', 'coredns', snippet), 'utf8');
    assert.match(text, new RegExp(`forward \\. ${svc.spec.clusterIP.replace(/\./g, '\\.')}:53\\b`), `${snippet} forwards to the pinned ClusterIP`);
    assert.doesNotMatch(text.replace(/#.*$/gm, ''), /^\s*cache\b/m, `${snippet}: no cache in the mesh block`);
  }
  const dnsConfig = load(join(repoRoot, 'deploy', 'pod-dnsconfig.yaml'))[0];
  assert.deepEqual(dnsConfig.spec.dnsConfig.nameservers, [svc.spec.clusterIP]);
  const deployment = byKind('Deployment');
  assert.equal(byKind('Service').spec.selector['app.kubernetes.io/name'], deployment.spec.template.metadata.labels['app.kubernetes.io/name']);
});

/** What a container runtime runs: ENTRYPOINT, then the pod's args if it has any, else CMD (command replaces ENTRYPOINT). */
function composedCommand(container: { command?: string[]; args?: string[] }): string[] {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  // The process gets the image's environment (no manifest sets one of its own).
  return ['env', ...imageEnv(dockerfile), ...(container.command ?? entrypoint), ...(container.args ?? (container.command === undefined ? cmd : []))];
}

/** The image's `ENV NAME=value ...` pairs, as the runtime sets them for the container's process. */
function imageEnv(dockerfile: string): string[] {
  return [...dockerfile.matchAll(/^ENV (.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
}

/**
 * Shell lines that lay out every volume the container mounts, as the kubelet would: ConfigMap items from the
 * rendered (generated) ConfigMap, Secret items with test values, emptyDirs as tmpfs.
 */
function mountVolumes(pod: Doc, container: Doc, tmp: string, secrets: Record<string, string>): string {
  const lines: string[] = [];
  for (const m of container.volumeMounts as Doc[]) {
    const volume = (pod.volumes as Doc[]).find((v) => v.name === m.name);
    // An emptyDir over a directory holding this checkout (CI clones under /tmp) would hide the program itself.
    if (volume.emptyDir !== undefined && [repoRoot, tmp].some((p) => p.startsWith(`${m.mountPath}/`))) continue;
    lines.push(`mkdir -p ${m.mountPath}`, `mount -t tmpfs tmpfs ${m.mountPath}`);
    const source = volume.configMap ?? volume.secret;
    if (source === undefined) continue;
    for (const item of source.items as { key: string; path: string }[]) {
      const text = volume.configMap ? byKind('ConfigMap').data[item.key] : secrets[`${volume.secret.secretName}/${item.key}`];
      assert.ok(text !== undefined, `volume ${m.name}: no ${item.key}`);
      const file = join(tmp, `${m.name}-${item.path}`);
      writeFileSync(file, text);
      lines.push(`cp ${file} ${m.mountPath}/${item.path}`);
    }
  }
  return lines.join('\n');
}

test("the container's command as the runtime composes it, with every volume mounted, starts meshdns on IPv4 and IPv6, which then answers and takes token writes", async () => {
  const pod = byKind('Deployment').spec.template.spec;
  const c = pod.containers[0];
  // Not under /tmp: the pod mounts an emptyDir there, which would hide these files.
  const tmp = mkdtempSync('/var/tmp/meshdns-deploy-');
  const command = composedCommand(c).map((a) => `'${a}'`).join(' ');
  const put = (auth: string): string =>
    `node -e "fetch('http://127.0.0.1:8053/v1/services/shop/vm/instances/a', {method: 'PUT', headers: {'content-type': 'application/json'${auth}}, body: JSON.stringify({address: '10.1.1.1', ports: []})}).then(r => console.log('put', r.status))"`;
  const r = await runInNamespace(`
${mountVolumes(pod, c, tmp, { 'meshdns-api-token/token': 's3cret-test-token\n' })}
cd ${repoRoot}
${command} > ${tmp}/server.log 2>&1 &
pid=$!
${waitForDns(1053)}
dig @127.0.0.1 -p 1053 +short linkerd.local SOA
echo "v6 $(dig @::1 -p 1053 +short linkerd.local NS)"
node -e "fetch('http://127.0.0.1:8053/readyz').then(r => console.log('readyz', r.status))"
${put('')}
${put(", authorization: 'Bearer s3cret-test-token'")}
kill -TERM $pid
wait $pid && echo "exit 0"
`);
  assert.equal(r.code, 0, r.stderr + readFileSync(join(tmp, 'server.log'), 'utf8'));
  assert.match(r.stdout, /^ns\.dns\.linkerd\.local\. hostmaster\.linkerd\.local\. 2026112501/m);
  assert.match(r.stdout, /^v6 ns\.dns\.linkerd\.local\.$/m);
  assert.match(r.stdout, /readyz 200/);
  assert.match(r.stdout, /put 401\nput 200/);
  assert.match(r.stdout, /exit 0/);
});

test("the Dockerfile's command is the one tested, and its HEALTHCHECK passes against it", async () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const healthcheck = /^HEALTHCHECK .* CMD (.*)$/m.exec(dockerfile)![1]!;
  // The image runs Node with the flags npm start uses, which every test and bench runs the server with too.
  assert.deepEqual(entrypoint, ['node', ...runtimeNodeFlags, 'dist/cli.js']);
  assert.ok(runtimeNodeFlags.includes('--max-semi-space-size=2'), `npm start's Node flags: ${runtimeNodeFlags.join(' ')}`);
  // ... and the environment npm start sets (glibc's arenas), which the tests run the server with too.
  const env = imageEnv(dockerfile);
  for (const [name, value] of Object.entries(runtimeEnv)) assert.ok(env.includes(`${name}=${value}`), `the image's ENV lacks npm start's ${name}=${value}`);
  assert.equal(runtimeEnv.MALLOC_ARENA_MAX, '2');
  assert.match(dockerfile, /^USER 1000:1000$/m);
  assert.match(dockerfile, /^FROM node:24-/m);
  assert.match(dockerfile, /^EXPOSE 1053\/udp 1053\/tcp 8053\/tcp$/m);
  // The build stage has a compiler and fails without the UDP addon, which dist/ carries into the runtime stage.
  assert.match(dockerfile, /apt-get install [^\n]*\bgcc\b/);
  assert.match(dockerfile, /^COPY native \.\/native$/m);
  // ... and without the Kubernetes client's bundle (scripts/bundle-kube-client.mjs).
  assert.match(dockerfile, /^RUN MESHDNS_NATIVE=required MESHDNS_BUNDLE=required npm run build/m);
  assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m);
  const r = await runInNamespace(`
cd ${repoRoot}
${['env', ...env, ...entrypoint, ...cmd].map((a) => `'${a}'`).join(' ')} > /dev/null 2>&1 &
pid=$!
${waitForDns(1053)}
${healthcheck} && echo healthcheck ok
dig @127.0.0.1 -p 1053 +short web.default.linkerd.local | sort
kill -TERM $pid
wait $pid && echo "exit 0"
`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /healthcheck ok/);
  assert.match(r.stdout, /10\.0\.0\.11\n10\.0\.0\.12/);
  assert.match(r.stdout, /exit 0/);
});
