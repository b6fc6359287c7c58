import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compact, deserialize, serialize, type Registration } from '../../src/store/registration.js';

const base = (id: string, extra: Partial<Registration> = {}): Registration => ({
  namespace: 'ns',
  service: 'svc',
  id,
  address: '10.0.0.1',
  ports: [{ name: 'http', port: 8080, protocol: 'tcp' }],
  weight: 10,
  metadata: {},
  registeredAt: 1,
  heartbeatAt: 2,
  ...extra,
});

test('compact: identical port lists and empty metadata are shared (and frozen); the content is unchanged', () => {
  const a = compact(base('a'));
  const b = deserialize(serialize(base('b')));
  assert.equal(a.ports, b.ports, 'one shared port list');
  assert.equal(a.metadata, b.metadata, 'one shared empty metadata');
  assert.ok(Object.isFrozen(a.ports) && Object.isFrozen(a.ports[0]) && Object.isFrozen(a.metadata));
  assert.deepEqual({ ...a }, { ...base('a') });
  const other = compact(base('c', { ports: [{ name: 'grpc', port: 9090, protocol: 'tcp' }], metadata: { team: 'x' } }));
  assert.notEqual(other.ports, a.ports);
  assert.deepEqual(other.metadata, { team: 'x' });
});
