/**
 * Which rule of a route a DNS client's traffic takes. DNS sees no method, headers, query or path: what it
 * answers is what the mesh would route a plain request — no headers, no query parameters, path `/`,
 * method GET — so the rule that request matches, by each mesh's own precedence, is the one in force.
 * Everything here is pure: route objects in, the chosen rule (or why there is none) and notes out.
 */

/** How well a plain request matches one rule (Gateway API precedence), compared field by field. */
export type MatchScore = readonly [exact: number, prefixLength: number, method: number];

interface HttpPathMatch {
  type?: unknown;
  value?: unknown;
}

interface GatewayHttpMatch {
  path?: HttpPathMatch | null;
  headers?: unknown[] | null;
  queryParams?: unknown[] | null;
  method?: unknown;
}

const hasItems = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

/** A regular expression of a route tried on `/` (RE2 and JavaScript agree on the patterns routes use). */
function regexMatchesRoot(pattern: unknown): boolean {
  if (typeof pattern !== 'string') return false;
  try {
    return new RegExp(`^(?:${pattern})$`).test('/');
  } catch {
    return false;
  }
}

/**
 * The score of a Gateway API HTTPRoute match for the plain request, or why it does not match. Path
 * defaults to PathPrefix `/` (the API's default); a prefix matches whole segments, so only `/` does.
 */
export function scoreHttpMatch(m: GatewayHttpMatch): MatchScore | string {
  if (hasItems(m.headers)) return 'matches only requests with certain headers';
  if (hasItems(m.queryParams)) return 'matches only requests with certain query parameters';
  if (m.method !== undefined && m.method !== null && m.method !== 'GET') return `matches only ${String(m.method)} requests`;
  const method = m.method === 'GET' ? 1 : 0;
  const type = m.path?.type ?? 'PathPrefix';
  const value = m.path?.value ?? '/';
  if (type === 'Exact') return value === '/' ? [1, 1, method] : `matches only the path ${String(value)}`;
  if (type === 'PathPrefix') return value === '/' || value === '' ? [0, 1, method] : `matches only paths under ${String(value)}`;
  if (type === 'RegularExpression') return regexMatchesRoot(value) ? [0, 0, method] : `matches only paths like ${String(value)}`;
  return `has a path match of unknown type ${String(type)}`;
}

interface GrpcMatch {
  method?: { service?: unknown; method?: unknown } | null;
  headers?: unknown[] | null;
}

/** A GRPCRoute match for a plain request: no headers, and no particular service or method (DNS knows neither). */
export function scoreGrpcMatch(m: GrpcMatch): MatchScore | string {
  if (hasItems(m.headers)) return 'matches only requests with certain headers';
  const service = m.method?.service;
  const method = m.method?.method;
  if ((typeof service === 'string' && service !== '') || (typeof method === 'string' && method !== '')) {
    return `matches only the gRPC method ${typeof service === 'string' ? service : '*'}/${typeof method === 'string' ? method : '*'}`;
  }
  return [0, 0, 0];
}

export function compareScores(a: MatchScore, b: MatchScore): number {
  return b[0] - a[0] || b[1] - a[1] || b[2] - a[2];
}

export interface RuleChoice<R> {
  /** The rule in force and its index, or undefined when the plain request matches none. */
  readonly chosen?: { readonly rule: R; readonly index: number; readonly score: MatchScore };
  /** Rules passed over, each with why (logged once by the source). */
  readonly passedOver: readonly string[];
}

/**
 * The best rule of one route for the plain request: each rule's best matching match (no matches = match
 * everything, as `/` with no conditions), then Gateway API precedence, ties to the first rule in order.
 */
export function chooseGatewayRule<R extends { matches?: unknown[] | null }>(rules: readonly R[], score: (m: never) => MatchScore | string, field = 'rules'): RuleChoice<R> {
  const passedOver: string[] = [];
  let chosen: { rule: R; index: number; score: MatchScore } | undefined;
  rules.forEach((rule, index) => {
    const matches = Array.isArray(rule.matches) && rule.matches.length > 0 ? rule.matches : [{}];
    let best: MatchScore | undefined;
    const why: string[] = [];
    for (const m of matches) {
      const s = typeof m === 'object' && m !== null ? score(m as never) : 'has a match that is not an object';
      if (typeof s === 'string') why.push(s);
      else if (best === undefined || compareScores(s, best) < 0) best = s;
    }
    if (best === undefined) {
      passedOver.push(`${field}[${index}] ${[...new Set(why)].join('; ')}: a DNS client's request is not among them`);
      return;
    }
    if (chosen === undefined || compareScores(best, chosen.score) < 0) chosen = { rule, index, score: best };
  });
  return { chosen, passedOver };
}

interface IstioStringMatch {
  exact?: unknown;
  prefix?: unknown;
  regex?: unknown;
}

interface IstioHttpMatch {
  uri?: IstioStringMatch | null;
  headers?: Record<string, unknown> | null;
  queryParams?: Record<string, unknown> | null;
  method?: IstioStringMatch | null;
  sourceLabels?: Record<string, unknown> | null;
  sourceNamespace?: unknown;
  authority?: unknown;
  scheme?: unknown;
  gateways?: unknown[] | null;
}

const hasKeys = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.keys(v).length > 0;

function stringMatches(m: IstioStringMatch, text: string): boolean {
  if (typeof m.exact === 'string') return m.exact === text;
  if (typeof m.prefix === 'string') return text.startsWith(m.prefix);
  if (typeof m.regex === 'string') return regexMatchesRoot(m.regex) && text === '/';
  return true;
}

/** Whether an Istio HTTPMatchRequest matches the plain request, or why not. */
export function istioHttpMatches(m: IstioHttpMatch): true | string {
  if (hasKeys(m.headers)) return 'matches only requests with certain headers';
  if (hasKeys(m.queryParams)) return 'matches only requests with certain query parameters';
  if (hasKeys(m.sourceLabels) || (typeof m.sourceNamespace === 'string' && m.sourceNamespace !== '')) return 'matches only some clients (sourceLabels, sourceNamespace)';
  if (hasKeys(m.authority) || hasKeys(m.scheme)) return 'matches only some authorities or schemes';
  if (Array.isArray(m.gateways) && m.gateways.length > 0 && !m.gateways.includes('mesh')) return 'applies only at gateways';
  if (m.method && hasKeys(m.method) && !stringMatches(m.method, 'GET')) return 'matches only some methods';
  if (m.uri && hasKeys(m.uri) && !stringMatches(m.uri, '/')) return `matches only the paths ${JSON.stringify(m.uri)}`;
  return true;
}

/**
 * Istio's order: the first route (in list order) any of whose matches the request satisfies; a route
 * without matches takes everything.
 */
export function chooseIstioRoute<R extends { match?: unknown[] | null }>(routes: readonly R[], field: string, matches: (m: never) => true | string = istioHttpMatches as (m: never) => true | string): RuleChoice<R> {
  const passedOver: string[] = [];
  for (const [index, route] of routes.entries()) {
    const list = Array.isArray(route.match) && route.match.length > 0 ? route.match : [{}];
    const why: string[] = [];
    for (const m of list) {
      const r = typeof m === 'object' && m !== null ? matches(m as never) : 'has a match that is not an object';
      if (r === true) return { chosen: { rule: route, index, score: [0, 0, 0] }, passedOver };
      why.push(r);
    }
    passedOver.push(`${field}[${index}] ${[...new Set(why)].join('; ')}: a DNS client's request is not among them`);
  }
  return { passedOver };
}

interface IstioL4Match {
  sourceLabels?: Record<string, unknown> | null;
  sourceNamespace?: unknown;
  gateways?: unknown[] | null;
  sniHosts?: unknown[] | null;
}

/** An Istio tcp/tls route's match: ports and SNI hosts are the service's own; client-specific ones are not plain. */
export function istioL4Matches(m: IstioL4Match): true | string {
  if (hasKeys(m.sourceLabels) || (typeof m.sourceNamespace === 'string' && m.sourceNamespace !== '')) return 'matches only some clients (sourceLabels, sourceNamespace)';
  if (Array.isArray(m.gateways) && m.gateways.length > 0 && !m.gateways.includes('mesh')) return 'applies only at gateways';
  return true;
}
