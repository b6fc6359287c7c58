import { ApisApi, CustomObjectsApi, type KubeConfig } from './kube-client.js';
import { PAGE, type ListPage, type ReflectorSpec } from './reflector.js';

/** A mesh traffic object kind meshdns follows, and the API versions it reads, preferred first. */
export interface MeshApi {
  /** `<plural>.<group>`, as the CRD is named: two groups may define one kind (HTTPRoute). */
  readonly id: string;
  readonly kind: 'HTTPRoute' | 'GRPCRoute' | 'TrafficSplit' | 'VirtualService' | 'DestinationRule' | 'ReferenceGrant' | 'ServiceImport';
  readonly group: string;
  readonly versions: readonly string[];
  readonly plural: string;
}

export const MESH_APIS: readonly MeshApi[] = [
  { id: 'httproutes.gateway.networking.k8s.io', kind: 'HTTPRoute', group: 'gateway.networking.k8s.io', versions: ['v1', 'v1beta1'], plural: 'httproutes' },
  // Linkerd's own HTTPRoute (before it adopted the Gateway API's): the same schema in its policy group.
  { id: 'httproutes.policy.linkerd.io', kind: 'HTTPRoute', group: 'policy.linkerd.io', versions: ['v1beta3', 'v1beta2', 'v1beta1'], plural: 'httproutes' },
  // GAMMA routes gRPC the same way (most of a mesh's traffic is gRPC).
  { id: 'grpcroutes.gateway.networking.k8s.io', kind: 'GRPCRoute', group: 'gateway.networking.k8s.io', versions: ['v1', 'v1alpha2'], plural: 'grpcroutes' },
  // What a route may refer to across namespaces (a backend Service in another namespace needs one there).
  { id: 'referencegrants.gateway.networking.k8s.io', kind: 'ReferenceGrant', group: 'gateway.networking.k8s.io', versions: ['v1', 'v1beta1', 'v1alpha2'], plural: 'referencegrants' },
  { id: 'trafficsplits.split.smi-spec.io', kind: 'TrafficSplit', group: 'split.smi-spec.io', versions: ['v1alpha4', 'v1alpha3', 'v1alpha2', 'v1alpha1'], plural: 'trafficsplits' },
  { id: 'virtualservices.networking.istio.io', kind: 'VirtualService', group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'], plural: 'virtualservices' },
  { id: 'destinationrules.networking.istio.io', kind: 'DestinationRule', group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'], plural: 'destinationrules' },
];

/** The Multi-Cluster Services API's ServiceImport (KEP-1645), read from the local cluster for clusterset.local. */
export const SERVICE_IMPORT_API: MeshApi = { id: 'serviceimports.multicluster.x-k8s.io', kind: 'ServiceImport', group: 'multicluster.x-k8s.io', versions: ['v1beta1', 'v1alpha1'], plural: 'serviceimports' };

/** Which mesh APIs the API server serves now, each with the version to read: id → version. */
export type ServedMeshApis = Map<string, string>;

/**
 * API discovery, as kubectl does it: /apis lists the groups and their versions; for each mesh group found,
 * /apis/{group}/{version} says whether the kind's resource is there (a group can be installed in part, e.g.
 * the Gateway API without HTTPRoute). Throws when the API server cannot be asked; the caller keeps what it
 * had.
 */
export async function discoverMeshApis(kubeConfig: KubeConfig, apis: readonly MeshApi[] = MESH_APIS): Promise<ServedMeshApis> {
  const groups = await kubeConfig.makeApiClient(ApisApi).getAPIVersions();
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const served = new Map<string, Set<string>>();
  for (const g of groups.groups ?? []) served.set(g.name, new Set((g.versions ?? []).map((v) => v.version)));
  const resources = new Map<string, Set<string>>();
  const out: ServedMeshApis = new Map();
  for (const api of apis) {
    const versions = served.get(api.group);
    if (versions === undefined) continue;
    for (const version of api.versions) {
      if (!versions.has(version)) continue;
      const at = `${api.group}/${version}`;
      let names = resources.get(at);
      if (names === undefined) {
        const list = await custom.getAPIResources({ group: api.group, version });
        resources.set(at, (names = new Set((list.resources ?? []).map((r) => r.name))));
      }
      if (names.has(api.plural)) {
        out.set(api.id, version);
        break;
      }
    }
  }
  return out;
}

/** A list of custom objects as the API server sends it. */
interface RawListPage {
  items?: unknown[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/**
 * Where a custom resource's reflector lists and watches (all namespaces, or one) and how it lists a page: the part
 * of a reflector's spec every custom kind shares (mesh objects, ServiceImports).
 */
export function customObjectSource(custom: CustomObjectsApi, api: MeshApi, version: string, ns: string | undefined): Pick<ReflectorSpec<unknown>, 'resource' | 'path' | 'list'> {
  const base = `/apis/${api.group}/${version}`;
  return {
    resource: api.id,
    path: ns === undefined ? `${base}/${api.plural}` : `${base}/namespaces/${ns}/${api.plural}`,
    list: async (token: string | undefined): Promise<ListPage> => {
      const page = (await (ns === undefined
        ? custom.listClusterCustomObject({ group: api.group, version, plural: api.plural, limit: PAGE, _continue: token })
        : custom.listNamespacedCustomObject({ group: api.group, version, namespace: ns, plural: api.plural, limit: PAGE, _continue: token }))) as RawListPage;
      // Custom objects come back as the API's raw JSON: `continue`, where typed models say `_continue`.
      return { items: page.items ?? [], metadata: { resourceVersion: page.metadata?.resourceVersion, _continue: page.metadata?.continue } };
    },
  };
}
