import { readFileSync } from 'node:fs';
import { BlockList, isIP, SocketAddress } from 'node:net';
import { parseArgs } from 'node:util';
import { yaml } from './lazy-yaml.js';
import { parseHostPort, type ListenAddress, type Upstream } from './listen-address.js';
import { nameToWire } from '../wire/name.js';
import { parseDuration } from './duration.js';
import { addressProblem } from '../catalog/address.js';
import { envName, FLAGS, type FlagSpec } from './flags.js';

export class ConfigError extends Error {}

export interface Config {
  /** Every flag's value after precedence (flag > env > file > default), as given: what a reload compares. */
  readonly settings: ReadonlyMap<string, readonly string[]>;
  readonly domains: readonly string[];
  readonly dns: readonly ListenAddress[];
  readonly http: ListenAddress;
  readonly zonesDir: string;
  readonly dataDir: string;
  readonly store: 'sqlite' | 'etcd';
  readonly etcd: readonly string[];
  readonly etcdPrefix: string;
  readonly etcdTls: { readonly ca: string; readonly cert?: string; readonly key?: string } | undefined;
  readonly etcdAuth: { readonly username: string; readonly passwordFile: string } | undefined;
  readonly deregisterAfterMs: number;
  readonly kubernetes: 'off' | 'auto' | 'on';
  readonly kubeconfig: string | undefined;
  readonly namespaces: readonly string[];
  readonly kubernetesLabelSelector: string | undefined;
  readonly kubernetesPodWeights: boolean;
  readonly kubernetesMeshObjects: boolean;
  readonly kubernetesDiscoveryIntervalMs: number;
  readonly kubernetesNodes: boolean;
  /** Without a trailing dot, lower case. */
  readonly clusterDomain: string;
  /** undefined: take them from /etc/resolv.conf; []: refuse names outside the zones. */
  readonly upstreams: readonly Upstream[] | undefined;
  readonly apiTokenFile: string | undefined;
  readonly apiTokensFile: string | undefined;
  readonly apiReadAuth: boolean;
  readonly httpTls: { readonly cert: string; readonly key: string } | undefined;
  readonly httpRequestTimeoutMs: number;
  readonly logLevel: string;
  readonly queryLogRate: number;
  readonly ttl: number;
  readonly answerLimit: number;
  readonly clientZones: readonly { readonly cidr: string; readonly zone: string }[];
  /** --cluster-name: the cluster of --kubeconfig. */
  readonly clusterName: string;
  /** --kubernetes-cluster: the other clusters watched, each with its kubeconfig. */
  readonly kubernetesClusters: readonly { readonly name: string; readonly kubeconfig: string }[];
  /** --clusterset-domain: the zone ServiceImports are served under; undefined: off. */
  readonly clustersetDomain: string | undefined;
  /** --client-cluster: client ranges and their clusters, when no Node places a client. */
  readonly clientClusters: readonly { readonly cidr: string; readonly zone: string }[];
  readonly reverseLookups: boolean;
  /** UDP through the native recvmmsg addon, node:dgram, or auto (the addon where it loads). */
  readonly udpIo: 'auto' | 'recvmmsg' | 'dgram';
  /** --reverse-cidr ranges, validated. */
  readonly reverseCidrs: readonly string[];
  /** Given --ns-address values; empty: derived from the listeners (see nameServerAddresses). */
  readonly nsAddresses: readonly string[];
  readonly forwardAllow: readonly string[];
  /** --transfer-allow: CIDRs that may transfer the zones. */
  readonly transferAllow: readonly string[];
  /** --notify: secondaries told of changes. */
  readonly notify: readonly Upstream[];
  /** --tsig-key-file: the key transfers and NOTIFYs are signed with. */
  readonly tsigKeyFile: string | undefined;
  readonly forwardTimeoutMs: number;
  readonly forwardCacheEntries: number;
  readonly forwardMaxConcurrent: number;
  readonly tcpIdleTimeoutMs: number;
  readonly tcpMaxConnections: number;
  readonly tcpMaxConnectionsPerClient: number;
  readonly rrl: RrlConfig;
  readonly seed: number | undefined;
  readonly probeConcurrency: number;
  readonly workers: number;
  readonly shutdownLameduckMs: number;
  readonly healthK: number;
  readonly healthTheta: number;
  readonly allUnhealthy: 'serve-all' | 'serve-none';
}

export interface RrlConfig {
  /** 0: off. */
  readonly responsesPerSecond: number;
  readonly slip: number;
  readonly ipv4PrefixLength: number;
  readonly ipv6PrefixLength: number;
  readonly exempt: readonly string[];
}

type Raw = Map<string, string[]>;

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Reads flags, then env, then the YAML file, then defaults; validates everything; throws ConfigError with one clear line. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  const fromFlags = readFlags(argv);
  const fromEnv = readEnv(env);
  const configFile = fromFlags.get('config')?.[0] ?? fromEnv.get('config')?.[0];
  const fromFile = configFile === undefined ? new Map() : readFile(configFile);
  const value = (spec: FlagSpec): string[] | undefined => fromFlags.get(spec.name) ?? fromEnv.get(spec.name) ?? fromFile.get(spec.name);
  const raw: Raw = new Map();
  for (const spec of FLAGS) {
    const v = value(spec);
    if (v !== undefined) raw.set(spec.name, v);
    else if (spec.default !== undefined) raw.set(spec.name, Array.isArray(spec.default) ? [...spec.default] : [spec.default as string]);
  }
  return validate(raw);
}

function readFlags(argv: readonly string[]): Raw {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(FLAGS.map((f) => [f.name, { type: 'string' as const, multiple: f.repeatable }])),
    });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message.split('\n')[0]} (see meshdns --help)`);
  }
  const raw: Raw = new Map();
  for (const [k, v] of Object.entries(parsed.values)) {
    if (v === undefined) continue;
    raw.set(k, (Array.isArray(v) ? v : [v]) as string[]);
  }
  return raw;
}

function readEnv(env: NodeJS.ProcessEnv): Raw {
  const raw: Raw = new Map();
  for (const spec of FLAGS) {
    const v = env[envName(spec.name)];
    if (v === undefined || v === '') continue;
    raw.set(spec.name, spec.repeatable ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : [v]);
  }
  return raw;
}

function readFile(path: string): Raw {
  let doc: unknown;
  try {
    doc = yaml().parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  const raw: Raw = new Map();
  // An empty file (a ConfigMap mounted before it was filled, a truncated write) would put every setting back
  // to its default: refused, at start and on SIGHUP, like a file that does not parse.
  if (doc === null || doc === undefined) throw new ConfigError(`config file ${path} is empty (no settings); give at least one setting, or drop --config`);
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path}: expected a mapping of flag names to values`);
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    const spec = FLAGS.find((f) => f.name === key);
    if (spec === undefined || key === 'config') throw new ConfigError(`config file ${path}: unknown key "${key}" (keys are the flag names, e.g. log-level)`);
    const list = Array.isArray(v) ? v : [v];
    if (!spec.repeatable && list.length !== 1) throw new ConfigError(`config file ${path}: "${key}" takes one value`);
    if (!list.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) throw new ConfigError(`config file ${path}: "${key}" must be a string, number or list of them`);
    raw.set(key, list.map(String));
  }
  return raw;
}

function one(raw: Raw, name: string): string | undefined {
  return raw.get(name)?.[0];
}

function integer(raw: Raw, name: string, min: number, max: number): number {
  const text = one(raw, name)!;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new ConfigError(`--${name} "${text}": expected a whole number from ${min} to ${max}`);
  return n;
}

function real(raw: Raw, name: string, min: number, max: number): number {
  const text = one(raw, name)!;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new ConfigError(`--${name} "${text}": expected a number from ${min} to ${max}`);
  return n;
}

function duration(raw: Raw, name: string, allowZero = false): number {
  const text = one(raw, name)!;
  const ms = text === '0' ? 0 : parseDuration(text);
  if (ms === undefined || ms < 0 || (ms === 0 && !allowZero)) throw new ConfigError(`--${name} "${text}": expected a duration like 500ms, 2s or 1m`);
  return ms;
}

function choice<T extends string>(raw: Raw, name: string, choices: readonly T[]): T {
  const text = one(raw, name)!;
  if (!(choices as readonly string[]).includes(text)) throw new ConfigError(`--${name} "${text}": expected one of ${choices.join(', ')}`);
  return text as T;
}

function validate(raw: Raw): Config {
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw err instanceof ConfigError ? err : new ConfigError((err as Error).message);
    }
  };
  const domains = raw.get('domain')!.map((d) => {
    const name = d.endsWith('.') ? d.slice(0, -1) : d;
    if (name === '' || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(name)) throw new ConfigError(`--domain "${d}": expected a domain name like linkerd.local`);
    wrap(() => nameToWire(name));
    return name.toLowerCase();
  });
  if (domains.length === 0) throw new ConfigError('--domain: at least one mesh zone is needed');
  const dns = raw.get('dns')!.map((a) => wrap(() => parseHostPort(a, '--dns')));
  if (dns.length === 0) throw new ConfigError('--dns: at least one listener is needed');
  const http = wrap(() => parseHostPort(one(raw, 'http')!, '--http'));
  const upstreamValues = raw.get('upstream');
  let upstreams: Upstream[] | undefined;
  if (upstreamValues !== undefined) {
    upstreams = upstreamValues.includes('none') ? [] : upstreamValues.map((u) => wrap(() => parseHostPort(u, '--upstream', 53)));
  }
  const forwardAllow = raw.get('forward-allow')!;
  const blocks = new BlockList();
  for (const cidr of forwardAllow) wrap(() => addCidr(blocks, cidr));
  const transferAllow = raw.get('transfer-allow') ?? [];
  for (const cidr of transferAllow) wrap(() => addCidr(new BlockList(), cidr, '--transfer-allow'));
  const notify = (raw.get('notify') ?? []).map((n) => wrap(() => parseHostPort(n, '--notify', 53)));
  const rrlExempt = raw.get('rrl-exempt') ?? [];
  for (const cidr of rrlExempt) wrap(() => addCidr(new BlockList(), cidr, '--rrl-exempt'));
  const logLevel = one(raw, 'log-level')!;
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`--log-level "${logLevel}": expected one of ${[...LOG_LEVELS].join(', ')}`);
  const store = choice(raw, 'store', ['sqlite', 'etcd'] as const);
  const etcd = raw.get('etcd') ?? [];
  if (store === 'etcd' && etcd.length === 0) throw new ConfigError('--store etcd needs at least one --etcd URL');
  const prefix = one(raw, 'etcd-prefix')!;
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new ConfigError(`--etcd-prefix "${prefix}": must start and end with "/"`);
  const etcdTls = etcdTlsOf(raw);
  const etcdUser = one(raw, 'etcd-username');
  const etcdPasswordFile = one(raw, 'etcd-password-file');
  if ((etcdUser === undefined) !== (etcdPasswordFile === undefined)) throw new ConfigError('--etcd-username and --etcd-password-file go together');
  for (const url of etcd) {
    if (!/^https?:\/\/[^/]+/.test(url)) throw new ConfigError(`--etcd "${url}": expected a URL like http://127.0.0.1:2379`);
    if (etcdTls !== undefined && url.startsWith('http://')) throw new ConfigError(`--etcd "${url}": with --etcd-ca, give https:// endpoints`);
  }
  const partial = {
    domains,
    dns,
    http,
    zonesDir: one(raw, 'zones')!,
    dataDir: one(raw, 'data-dir')!,
    store,
    etcd,
    etcdPrefix: one(raw, 'etcd-prefix')!,
    etcdTls,
    etcdAuth: etcdUser === undefined ? undefined : { username: etcdUser, passwordFile: etcdPasswordFile! },
    deregisterAfterMs: duration(raw, 'deregister-after'),
    kubernetes: choice(raw, 'kubernetes', ['off', 'auto', 'on'] as const),
    kubeconfig: one(raw, 'kubeconfig'),
    namespaces: (raw.get('namespace') ?? []).map((ns) => {
      if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(ns)) throw new ConfigError(`--namespace "${ns}": expected a Kubernetes namespace name`);
      return ns;
    }),
    kubernetesLabelSelector: one(raw, 'kubernetes-label-selector'),
    kubernetesPodWeights: choice(raw, 'kubernetes-pod-weights', ['off', 'on'] as const) === 'on',
    kubernetesMeshObjects: choice(raw, 'kubernetes-mesh-objects', ['on', 'off'] as const) === 'on',
    kubernetesDiscoveryIntervalMs: Math.max(100, duration(raw, 'kubernetes-discovery-interval')),
    kubernetesNodes: choice(raw, 'kubernetes-nodes', ['on', 'off'] as const) === 'on',
    clusterDomain: clusterDomainOf(one(raw, 'cluster-domain')!),
    upstreams,
    apiTokenFile: one(raw, 'api-token-file'),
    apiTokensFile: one(raw, 'api-tokens'),
    apiReadAuth: choice(raw, 'api-read-auth', ['on', 'off'] as const) === 'on',
    httpTls: httpTlsOf(raw),
    httpRequestTimeoutMs: duration(raw, 'http-request-timeout'),
    logLevel,
    queryLogRate: real(raw, 'query-log', 0, 1),
    ttl: integer(raw, 'ttl', 0, 86400),
    answerLimit: integer(raw, 'answer-limit', 0, 65535),
    clientZones: (raw.get('client-zone') ?? []).map((entry) => {
      const eq = entry.indexOf('=');
      const cidr = entry.slice(0, eq);
      const zone = entry.slice(eq + 1);
      if (eq < 0 || zone === '' || zone.length > 63) throw new ConfigError(`--client-zone "${entry}": expected CIDR=ZONE, like 10.1.0.0/16=eu-west-1a`);
      wrap(() => addCidr(new BlockList(), cidr, '--client-zone'));
      return { cidr, zone };
    }),
    clusterName: clusterLabel(one(raw, 'cluster-name') ?? 'local', '--cluster-name'),
    clustersetDomain: clustersetDomainOf(one(raw, 'clusterset-domain') ?? 'clusterset.local'),
    kubernetesClusters: (raw.get('kubernetes-cluster') ?? []).map((entry) => {
      const eq = entry.indexOf('=');
      if (eq < 0 || eq === entry.length - 1) throw new ConfigError(`--kubernetes-cluster "${entry}": expected NAME=KUBECONFIG, like west=/etc/meshdns/clusters/west.kubeconfig`);
      return { name: clusterLabel(entry.slice(0, eq), '--kubernetes-cluster'), kubeconfig: entry.slice(eq + 1) };
    }),
    clientClusters: (raw.get('client-cluster') ?? []).map((entry) => {
      const eq = entry.indexOf('=');
      if (eq < 0) throw new ConfigError(`--client-cluster "${entry}": expected CIDR=NAME, like 10.8.0.0/16=west`);
      const cidr = entry.slice(0, eq);
      wrap(() => addCidr(new BlockList(), cidr, '--client-cluster'));
      return { cidr, zone: clusterLabel(entry.slice(eq + 1), '--client-cluster') };
    }),
  };
  if (partial.clustersetDomain !== undefined && domains.includes(partial.clustersetDomain)) {
    throw new ConfigError(`--clusterset-domain ${partial.clustersetDomain} is also a --domain; the cluster-set zone needs a name of its own (or --clusterset-domain off)`);
  }
  // One name, one cluster: two --kubernetes-cluster with one name (or the local one's) would merge two clusters' instances as one's.
  const clusterNames = new Set([partial.clusterName]);
  for (const c of partial.kubernetesClusters) {
    if (clusterNames.has(c.name)) throw new ConfigError(`--kubernetes-cluster ${c.name}: the name is already given to ${c.name === partial.clusterName ? 'the local cluster (--cluster-name)' : 'another --kubernetes-cluster'}; give each cluster its own name`);
    clusterNames.add(c.name);
  }
  // One range, one zone: the same CIDR given to two zones would silently pick one of them for its clients.
  const zoneOfCidr = new Map<string, string>();
  for (const { cidr, zone } of partial.clientZones) {
    const key = canonicalCidr(cidr);
    const other = zoneOfCidr.get(key);
    if (other !== undefined && other !== zone) throw new ConfigError(`--client-zone ${cidr}: the same range is given to zones "${other}" and "${zone}"; give each range one zone`);
    zoneOfCidr.set(key, zone);
  }
  return {
    settings: raw,
    ...partial,
    reverseLookups: choice(raw, 'reverse-lookups', ['on', 'off'] as const) === 'on',
    reverseCidrs: (raw.get('reverse-cidr') ?? []).map((cidr) => {
      wrap(() => addCidr(new BlockList(), cidr, '--reverse-cidr'));
      return cidr;
    }),
    nsAddresses: (raw.get('ns-address') ?? []).map((a) => {
      const problem = addressProblem(a);
      if (problem !== undefined) throw new ConfigError(`--ns-address: ${problem}`);
      return a;
    }),
    forwardAllow,
    transferAllow,
    notify,
    tsigKeyFile: one(raw, 'tsig-key-file'),
    forwardTimeoutMs: duration(raw, 'forward-timeout'),
    forwardCacheEntries: integer(raw, 'forward-cache', 0, 10_000_000),
    forwardMaxConcurrent: integer(raw, 'forward-max-concurrent', 1, 100_000),
    tcpIdleTimeoutMs: duration(raw, 'tcp-idle-timeout'),
    tcpMaxConnections: integer(raw, 'tcp-max-connections', 1, 1_000_000),
    tcpMaxConnectionsPerClient: integer(raw, 'tcp-max-connections-per-client', 1, 1_000_000),
    rrl: {
      responsesPerSecond: integer(raw, 'rrl-responses-per-second', 0, 1_000_000),
      slip: integer(raw, 'rrl-slip', 0, 10),
      ipv4PrefixLength: integer(raw, 'rrl-ipv4-prefix', 0, 32),
      ipv6PrefixLength: integer(raw, 'rrl-ipv6-prefix', 0, 128),
      exempt: rrlExempt,
    },
    seed: raw.has('seed') ? integer(raw, 'seed', 0, 0xffffffff) : undefined,
    probeConcurrency: integer(raw, 'probe-concurrency', 1, 100_000),
    workers: integer(raw, 'workers', 1, 64),
    udpIo: choice(raw, 'udp-io', ['auto', 'recvmmsg', 'dgram'] as const),
    shutdownLameduckMs: duration(raw, 'shutdown-lameduck', true),
    healthK: real(raw, 'health-k', 0.1, 1000),
    healthTheta: real(raw, 'health-theta', 0, 1),
    allUnhealthy: choice(raw, 'all-unhealthy', ['serve-all', 'serve-none'] as const),
  };
}

function clusterDomainOf(text: string): string {
  const name = text.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name)) {
    throw new ConfigError(`--cluster-domain "${text}": expected a DNS name like cluster.local`);
  }
  return name;
}

/** HTTPS on the HTTP listener: a certificate and its key, both or neither. */
function httpTlsOf(raw: Raw): Config['httpTls'] {
  const [cert, key] = [one(raw, 'http-tls-cert'), one(raw, 'http-tls-key')];
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('--http-tls-cert and --http-tls-key go together');
  return cert === undefined ? undefined : { cert, key: key! };
}

/** TLS to etcd: a CA, and optionally a client certificate with its key (both or neither). */
function etcdTlsOf(raw: Raw): Config['etcdTls'] {
  const [ca, cert, key] = [one(raw, 'etcd-ca'), one(raw, 'etcd-cert'), one(raw, 'etcd-key')];
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('--etcd-cert and --etcd-key go together');
  if (ca === undefined) {
    if (cert !== undefined) throw new ConfigError('--etcd-cert needs --etcd-ca (the CA that signed the etcd servers)');
    return undefined;
  }
  return { ca, cert, key };
}

/** A CIDR as one spelling: the range's first address in canonical form, and the prefix. */
function canonicalCidr(cidr: string): string {
  const [address, prefix] = cidr.split('/') as [string, string];
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return `${family}:${new SocketAddress({ address, family }).address.toLowerCase()}/${prefix}`;
}

export function addCidr(blocks: BlockList, cidr: string, flag = '--forward-allow'): void {
  const [address, prefixText] = cidr.split('/');
  const family = isIP(address ?? '');
  const prefix = Number(prefixText);
  const max = family === 6 ? 128 : 32;
  if (family === 0 || prefixText === undefined || !/^\d+$/.test(prefixText) || prefix > max) {
    throw new ConfigError(`${flag} "${cidr}": expected an address range like 10.0.0.0/8 or fc00::/7`);
  }
  blocks.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
}

export function allowList(cidrs: readonly string[]): BlockList {
  const blocks = new BlockList();
  for (const c of cidrs) addCidr(blocks, c);
  return blocks;
}

/**
 * The settings whose value differs between two configs and that a SIGHUP cannot apply (FlagSpec.live): they need
 * a restart. Named as the config file spells them (`ttl`, not `--ttl`): the file is what the operator just edited.
 */
export function flagsNeedingRestart(running: Config, next: Config): string[] {
  return FLAGS.filter((f) => f.live !== true && JSON.stringify(running.settings.get(f.name)) !== JSON.stringify(next.settings.get(f.name))).map((f) => f.name);
}

/** A cluster name is a DNS label: other clusters' instance names are <name>.<cluster>.<svc>.<ns>.<zone>. */
function clusterLabel(name: string, flag: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw new ConfigError(`${flag} "${name}": a cluster name must be a DNS label (lowercase letters, digits and '-', at most 63)`);
  return name;
}

/** --clusterset-domain: a DNS name (not one of the mesh zones, checked where both are known), or off. */
function clustersetDomainOf(text: string): string | undefined {
  if (text === 'off') return undefined;
  const name = text.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name)) throw new ConfigError(`--clusterset-domain "${text}": expected a DNS name like clusterset.local, or off`);
  return name;
}
