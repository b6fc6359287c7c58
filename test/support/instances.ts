import type { Instance } from '../../src/catalog/types.js';

/** A healthy REST instance with one http port and weight 100, changed by `extra`. */
export function instance(id: string, address: string, extra: Partial<Instance> = {}): Instance {
  return { id, source: 'rest', address, ports: [{ name: 'http', port: 8080, protocol: 'tcp' }], weight: 100, health: 'healthy', ...extra };
}
