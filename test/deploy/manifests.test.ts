import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../support/meshdns-process.js';
import { runInNamespace, waitForDns } from '../support/netns.js';

const dir = join(repoRoot, 'deploy', 'kubernetes');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes manifests, checked field by field below
type Doc = any;

function load(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${file}: ${d.errors.join(', ')}`);
  return docs.map((d) => d.toJS() as Doc);
}

const byKind = (kind: string): Doc => readdirSync(dir).filter((f) => f.endsWith('.yaml')).flatMap((f) => load(join(dir, f))).find((d) => d?.kind === kind);

test('every manifest parses and the kustomization lists files that exist', () => {
  const kustomization = load(join(dir, 'kustomization.yaml'))[0];
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), files.sort());
  const kinds = files.flatMap((f) => load(join(dir, f)).map((d) => d.kind)).sort();
  assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
  const overlay = load(join(dir, 'etcd', 'kustomization.yaml'))[0];
  assert.deepEqual(overlay.resources, ['../']);
  assert.match(overlay.patches[0].patch, /store: etcd/);
  load(join(repoRoot, 'deploy', 'pod-dnsconfig.yaml'));
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
  const config = load(join(dir, 'configmap.yaml'))[0].data['config.yaml'];
  const listen = /dns: \["0\.0\.0\.0:(\d+)"\]/.exec(config)![1];
  const http = /http: "0\.0\.0\.0:(\d+)"/.exec(config)![1];
  const ports = byKind('Deployment').spec.template.spec.containers[0].ports as { name: string; containerPort: number; protocol: string }[];
  const byName = new Map(ports.map((p) => [p.name, p]));
  assert.equal(String(byName.get('dns-udp')!.containerPort), listen);
  assert.equal(String(byName.get('dns-tcp')!.containerPort), listen);
  assert.equal(String(byName.get('http')!.containerPort), http);
  const svc = byKind('Service');
  for (const p of svc.spec.ports) assert.ok(byName.has(p.targetPort), `targetPort ${p.targetPort}`);
  const dnsPorts = svc.spec.ports.filter((p: { name: string }) => p.name.startsWith('dns'));
  assert.deepEqual(dnsPorts.map((p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`).sort(), ['53/TCP', '53/UDP']);
  const corefile = readFileSync(join(repoRoot, 'deploy', 'coredns', 'Corefile.snippet'), 'utf8');
  assert.match(corefile, /forward \. [\d.]+:53\b/);
  const deployment = byKind('Deployment');
  assert.equal(byKind('Service').spec.selector['app.kubernetes.io/name'], deployment.spec.template.metadata.labels['app.kubernetes.io/name']);
});

test("the container's args and mounted files are accepted by meshdns serve, which then answers", async () => {
  const configMap = load(join(dir, 'configmap.yaml'))[0];
  const c = byKind('Deployment').spec.template.spec.containers[0];
  const tmp = mkdtempSync(join(tmpdir(), 'meshdns-deploy-'));
  writeFileSync(join(tmp, 'config.yaml'), configMap.data['config.yaml']);
  writeFileSync(join(tmp, 'linkerd.local.zone'), configMap.data['linkerd.local.zone']);
  const args = (c.args as string[]).map((a) => `'${a}'`).join(' ');
  const r = await runInNamespace(`
mkdir -p /etc/meshdns /var/lib/meshdns
mount -t tmpfs tmpfs /etc/meshdns
mount -t tmpfs tmpfs /var/lib/meshdns
mkdir -p /etc/meshdns/config /etc/meshdns/zones
cp ${tmp}/config.yaml /etc/meshdns/config/config.yaml
cp ${tmp}/linkerd.local.zone /etc/meshdns/zones/linkerd.local.zone
cd ${repoRoot}
node dist/cli.js ${args} > ${tmp}/server.log 2>&1 &
pid=$!
${waitForDns(1053)}
dig @127.0.0.1 -p 1053 +short linkerd.local SOA
node -e "fetch('http://127.0.0.1:8053/readyz').then(r => console.log('readyz', r.status))"
kill -TERM $pid
wait $pid && echo "exit 0"
`);
  assert.equal(r.code, 0, r.stderr + readFileSync(join(tmp, 'server.log'), 'utf8'));
  assert.match(r.stdout, /^ns\.dns\.linkerd\.local\. hostmaster\.linkerd\.local\. 2026112501/m);
  assert.match(r.stdout, /readyz 200/);
  assert.match(r.stdout, /exit 0/);
});

test("the Dockerfile's command is the one tested, and its HEALTHCHECK passes against it", async () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const healthcheck = /^HEALTHCHECK .* CMD (.*)$/m.exec(dockerfile)![1]!;
  assert.deepEqual(entrypoint, ['node', 'dist/cli.js', 'serve']);
  assert.match(dockerfile, /^USER node$/m);
  assert.match(dockerfile, /^EXPOSE 1053\/udp 1053\/tcp 8053\/tcp$/m);
  const r = await runInNamespace(`
cd ${repoRoot}
${[...entrypoint, ...cmd].map((a) => `'${a}'`).join(' ')} > /dev/null 2>&1 &
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
