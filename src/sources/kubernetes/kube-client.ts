/**
 * The one door to @kubernetes/client-node: the parts meshdns uses, and nothing else of it is imported anywhere.
 * `npm run build` replaces this module's compiled form with a bundle of just these names, tree-shaken and
 * minified (scripts/bundle-kube-client.mjs): the library's index loads every generated API group and model, and
 * V8 keeps each module's source text and code, ~50 MB resident in a process that only lists and watches.
 */
export { ApisApi, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
