/**
 * Every flag of `meshdns serve`: its env var (MESHDNS_<UPPER_SNAKE>), YAML key
 * (the flag name), default and help. One table drives parsing, --help and
 * the README.
 */

export interface FlagSpec {
  readonly name: string;
  readonly arg: string;
  readonly repeatable: boolean;
  readonly default: string | readonly string[] | undefined;
  readonly help: string;
  /** Applied on SIGHUP without a restart (the rest is wired into listeners, stores and sources at start). */
  readonly live?: true;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'config', arg: 'FILE', repeatable: false, default: undefined, help: 'YAML file with any of these flags as keys (flags and env override it)' },
  { name: 'domain', arg: 'NAME', repeatable: true, default: ['linkerd.local'], help: 'mesh zone served authoritatively' },
  { name: 'dns', arg: 'HOST:PORT', repeatable: true, default: ['127.0.0.1:1053'], help: 'UDP and TCP DNS listener ([::]:53 style for IPv6)' },
  { name: 'http', arg: 'HOST:PORT', repeatable: false, default: '127.0.0.1:8053', help: 'HTTP listener: REST API, /metrics, /healthz, /readyz' },
  { name: 'zones', arg: 'DIR', repeatable: false, default: './zones', help: 'directory of RFC 1035 master files <zone>.zone, reloaded on change' },
  { name: 'data-dir', arg: 'DIR', repeatable: false, default: './data', help: 'where the embedded store keeps REST registrations' },
  { name: 'store', arg: 'sqlite|etcd', repeatable: false, default: 'sqlite', help: 'registration store' },
  { name: 'etcd', arg: 'URL', repeatable: true, default: [], help: 'etcd endpoint, with --store etcd' },
  { name: 'etcd-ca', arg: 'FILE', repeatable: false, default: undefined, help: 'CA certificate (PEM) that signed the etcd servers\' certificates: TLS to etcd (https:// endpoints)' },
  { name: 'etcd-cert', arg: 'FILE', repeatable: false, default: undefined, help: 'client certificate (PEM) for etcd\'s --client-cert-auth, with --etcd-key' },
  { name: 'etcd-key', arg: 'FILE', repeatable: false, default: undefined, help: 'private key (PEM) of --etcd-cert' },
  { name: 'etcd-username', arg: 'NAME', repeatable: false, default: undefined, help: 'etcd user (etcd auth enabled), with --etcd-password-file' },
  { name: 'etcd-password-file', arg: 'FILE', repeatable: false, default: undefined, help: 'file holding the password of --etcd-username' },
  { name: 'etcd-prefix', arg: 'KEY', repeatable: false, default: '/meshdns/registrations/', help: 'etcd key prefix of the registrations (replicas sharing it share registrations)' },
  { name: 'deregister-after', arg: 'DURATION', repeatable: false, default: '10m', help: 'remove a TTL registration that has had no heartbeat this long' },
  { name: 'kubernetes', arg: 'off|auto|on', repeatable: false, default: 'auto', help: 'sync Services and EndpointSlices from the Kubernetes API' },
  { name: 'kubeconfig', arg: 'FILE', repeatable: false, default: undefined, help: 'kubeconfig (else in-cluster, $KUBECONFIG, ~/.kube/config)' },
  { name: 'namespace', arg: 'NAME', repeatable: true, default: [], help: 'Kubernetes namespace to watch (default: all namespaces)' },
  { name: 'kubernetes-label-selector', arg: 'SELECTOR', repeatable: false, default: undefined, help: 'only Kubernetes Services matching this label selector (e.g. mesh=linkerd)' },
  { name: 'kubernetes-pod-weights', arg: 'off|on', repeatable: false, default: 'off', help: 'watch Pods for the meshdns.io/weight annotation (needs list/watch on pods)' },
  { name: 'kubernetes-mesh-objects', arg: 'on|off', repeatable: false, default: 'on', help: 'follow the mesh\'s traffic objects (HTTPRoute, TrafficSplit, VirtualService, DestinationRule) whose CRDs API discovery finds' },
  { name: 'kubernetes-discovery-interval', arg: 'DURATION', repeatable: false, default: '30s', help: 'how often API discovery looks again for mesh CRDs installed or removed since' },
  { name: 'kubernetes-nodes', arg: 'on|off', repeatable: false, default: 'on', help: 'watch Nodes: a client address in a Node\'s spec.podCIDRs is in its topology.kubernetes.io/zone (locality prefer-zone; needs list/watch on nodes)' },
  { name: 'cluster-name', arg: 'NAME', repeatable: false, default: 'local', help: 'name of the cluster of --kubeconfig (or in-cluster): its instances keep plain names, other clusters\' are <name>.<cluster>' },
  { name: 'kubernetes-cluster', arg: 'NAME=KUBECONFIG', repeatable: true, default: [], help: 'another cluster to watch (Services, EndpointSlices, Nodes), with its kubeconfig; same namespace/name is one service across clusters (added or dropped on SIGHUP)', live: true },
  { name: 'client-cluster', arg: 'CIDR=NAME', repeatable: true, default: [], help: 'clients in CIDR are in cluster NAME when no watched Node places them (policy clusters)' },
  { name: 'clusterset-domain', arg: 'NAME|off', repeatable: false, default: 'clusterset.local', help: 'serve the local cluster\'s ServiceImports (Multi-Cluster Services API) under this zone as KEP-1645 specifies; off: not served' },
  { name: 'cluster-domain', arg: 'NAME', repeatable: false, default: 'cluster.local', help: 'the cluster\'s DNS domain, for VirtualService hosts like web.shop.svc.cluster.local' },
  { name: 'upstream', arg: 'HOST[:PORT]', repeatable: true, default: undefined, help: 'resolver for names outside the mesh zones (default: /etc/resolv.conf; "none" refuses them)', live: true },
  { name: 'http-request-timeout', arg: 'DURATION', repeatable: false, default: '10s', help: 'an HTTP request must arrive whole within this; slower ones get 408' },
  { name: 'api-token-file', arg: 'FILE', repeatable: false, default: undefined, help: 'bearer token required for REST writes (else loopback only)', live: true },
  { name: 'api-tokens', arg: 'FILE', repeatable: false, default: undefined, help: 'YAML list of named tokens with write patterns and a read flag (reloaded on SIGHUP)', live: true },
  { name: 'api-read-auth', arg: 'on|off', repeatable: false, default: 'off', help: 'on: reads (/v1/*) need a token too; /metrics, /healthz and /readyz stay open' },
  { name: 'http-tls-cert', arg: 'FILE', repeatable: false, default: undefined, help: 'certificate (PEM) for HTTPS on the HTTP listener, with --http-tls-key (reloaded on SIGHUP)', live: true },
  { name: 'http-tls-key', arg: 'FILE', repeatable: false, default: undefined, help: 'private key (PEM) of --http-tls-cert', live: true },
  { name: 'log-level', arg: 'LEVEL', repeatable: false, default: 'info', help: 'trace, debug, info, warn, error, fatal or silent', live: true },
  { name: 'query-log', arg: 'RATE', repeatable: false, default: '0', help: 'log this fraction of queries (0 to 1) at info level; 0 logs none', live: true },
  { name: 'client-zone', arg: 'CIDR=ZONE', repeatable: true, default: [], help: 'clients in CIDR are in ZONE, for services with locality prefer-zone (e.g. 10.1.0.0/16=eu-west-1a)' },
  { name: 'answer-limit', arg: 'N', repeatable: false, default: '0', help: 'at most N records in an A/AAAA/SRV answer from the catalog, the first N of the weighted order (1 keeps weights behind caching resolvers); 0 = all' },
  { name: 'reverse-lookups', arg: 'on|off', repeatable: false, default: 'on', help: 'answer PTR queries for the addresses of known instances (off saves the reverse table\'s memory)' },
  { name: 'reverse-cidr', arg: 'CIDR', repeatable: true, default: [], help: 'answer the reverse zone of this range authoritatively: unknown addresses there are NXDOMAIN (known instance addresses get PTR everywhere)' },
  { name: 'ns-address', arg: 'IP', repeatable: true, default: [], help: 'address of the generated name server ns.dns.<zone> of a zone whose file has no NS (default: the --dns addresses, or for wildcards this host\'s)' },
  { name: 'ttl', arg: 'SECONDS', repeatable: false, default: '5', help: 'TTL of records built from the catalog (and of the generated SOA)' },
  { name: 'forward-allow', arg: 'CIDR', repeatable: true, default: ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fe80::/10'], help: 'clients allowed to have names forwarded (never an open resolver)', live: true },
  { name: 'transfer-allow', arg: 'CIDR', repeatable: true, default: [], help: 'clients that may transfer the zones (AXFR, IXFR over TCP); none: transfers are REFUSED' },
  { name: 'notify', arg: 'HOST:PORT', repeatable: true, default: [], help: 'a secondary to NOTIFY when a mesh zone changes (at most once a second a zone, retried until answered)' },
  { name: 'tsig-key-file', arg: 'FILE', repeatable: false, default: undefined, help: 'BIND key file (tsig-keygen): transfers need a valid TSIG with this key, NOTIFYs are signed with it' },
  { name: 'forward-timeout', arg: 'DURATION', repeatable: false, default: '2s', help: 'how long to wait for one upstream before trying the next', live: true },
  { name: 'forward-max-concurrent', arg: 'N', repeatable: false, default: '1000', help: 'forwarded queries waiting on upstreams at most; more are REFUSED at once', live: true },
  { name: 'forward-cache', arg: 'ENTRIES', repeatable: false, default: '10000', help: 'forwarded answers kept (by their TTL, at most 1h); 0 turns the cache off', live: true },
  { name: 'tcp-idle-timeout', arg: 'DURATION', repeatable: false, default: '10s', help: 'close a TCP connection idle this long' },
  { name: 'tcp-max-connections', arg: 'N', repeatable: false, default: '1000', help: 'TCP connections per listener; at the cap a new one replaces one that never sent a query, else the one longest without one' },
  { name: 'tcp-max-connections-per-client', arg: 'N', repeatable: false, default: '64', help: 'TCP connections one client address may hold; more are closed at once' },
  { name: 'rrl-responses-per-second', arg: 'N', repeatable: false, default: '0', help: 'UDP response-rate limit per client network and response (BIND-style RRL); 0 turns it off' },
  { name: 'rrl-slip', arg: 'N', repeatable: false, default: '2', help: 'send every Nth rate-limited UDP response truncated (TC) so real clients retry over TCP; 0 drops them all' },
  { name: 'rrl-ipv4-prefix', arg: 'BITS', repeatable: false, default: '24', help: 'IPv4 clients in one network of this prefix length share a rate limit' },
  { name: 'rrl-ipv6-prefix', arg: 'BITS', repeatable: false, default: '56', help: 'IPv6 clients in one network of this prefix length share a rate limit' },
  { name: 'rrl-exempt', arg: 'CIDR', repeatable: true, default: [], help: 'clients never rate limited (e.g. the CoreDNS nodes that forward to meshdns)' },
  { name: 'probe-concurrency', arg: 'N', repeatable: false, default: '256', help: 'health probes in flight at most' },
  { name: 'health-k', arg: 'K', repeatable: false, default: '10', help: 'steepness k of the soft weight R(x) = 1/(1+e^(-k(x-θ)))' },
  { name: 'health-theta', arg: 'θ', repeatable: false, default: '0.5', help: 'midpoint θ of the soft weight, a probe success ratio in [0,1]' },
  { name: 'all-unhealthy', arg: 'serve-all|serve-none', repeatable: false, default: 'serve-all', help: 'when every instance of a service fails its probes: answer them all (panic) or none' },
  { name: 'shutdown-lameduck', arg: 'DURATION', repeatable: false, default: '5s', help: 'on SIGTERM, fail /readyz at once but keep answering DNS this long (while load balancers stop sending), then drain and exit' },
  { name: 'udp-io', arg: 'auto|recvmmsg|dgram', repeatable: false, default: 'auto', help: 'how UDP is read and written: recvmmsg/sendmmsg in batches through the native addon (built by npm run build where a C compiler is present), node:dgram a datagram at a time, or auto (the addon where it loads)' },
  { name: 'workers', arg: 'N', repeatable: false, default: '1', help: 'DNS worker processes sharing the listeners (1: answer in the main process; set to the core count for throughput)' },
  { name: 'seed', arg: 'N', repeatable: false, default: undefined, help: 'seed of the weighted-order random source (tests only; default unpredictable)' },
];

export function envName(flag: string): string {
  return `MESHDNS_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function helpText(): string {
  const lines = [
    'Usage: meshdns serve [flags]',
    '',
    'Authoritative DNS for a service-mesh zone, with weighted answers among healthy instances.',
    'Each flag can also be set by its env var or as a key of the --config YAML file;',
    'precedence: flag > env > file > default. Repeatable flags take a comma-separated env value.',
    '',
    'Flags:',
  ];
  for (const f of FLAGS) {
    const def = f.default === undefined ? '' : Array.isArray(f.default) ? (f.default.length ? ` (default ${f.default.join(', ')})` : '') : ` (default ${f.default})`;
    lines.push(`  --${f.name} ${f.arg}${f.repeatable ? ' (repeatable)' : ''}`);
    lines.push(`      ${f.help}${def}. Env ${envName(f.name)}.`);
  }
  lines.push('  --help', '      print this text', '  --version', '      print the version');
  return lines.join('\n');
}
