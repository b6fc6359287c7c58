import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compact, deserialize, isRestInstance, lastHeartbeat, registrationOf, sameRegistration, serialize, toInstance, type Registration } from '../../src/store/registration.js';
import { instanceFacts } from '../../src/catalog/types.js';

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

test('toInstance / registrationOf: the catalog instance carries its registration, which reads back as stored', () => {
  const check = { http: 'http://user:secret@10.0.0.1:8080/healthz', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 2, unhealthyThreshold: 3 };
  const cases: Registration[] = [
    base('plain'),
    base('ttl', { ttlMs: 10_000, zone: 'eu-1', metadata: { team: 'payments' } }),
    base('remote', { cluster: 'west' }),
    base('named-local', { cluster: 'east' }),
    base('checked', { check }),
  ];
  for (const r of cases) {
    const i = toInstance(r, 3, 'east');
    assert.ok(isRestInstance(i));
    assert.equal(i.cluster, r.cluster === 'west' ? 'west' : undefined, 'the local cluster, named or not, is no instance cluster');
    const back = registrationOf('ns', 'svc', i);
    assert.deepEqual(back, r, `${r.id} reads back as it was registered`);
    assert.ok(sameRegistration(back, r));
    assert.equal(serialize(deserialize(serialize(back))), serialize(back));
  }
  assert.ok(!sameRegistration(base('a'), base('a', { heartbeatAt: 9 })), 'a heartbeat is a change');
  const fresh = toInstance(base('fresh', { registeredAt: 5, heartbeatAt: 5 }), 6);
  assert.equal(fresh.heartbeatAt, undefined, 'never renewed: one timestamp kept');
  assert.equal(lastHeartbeat(fresh), 5);
  assert.equal(registrationOf('ns', 'svc', fresh).heartbeatAt, 5);
  assert.equal(lastHeartbeat(toInstance(base('renewed', { registeredAt: 5, heartbeatAt: 8 }), 9)), 8);
  assert.ok(!sameRegistration(base('a', { cluster: 'east' }), base('a')), 'naming the local cluster is kept');
});

test('instanceFacts: a REST instance reaches workers without its registration (no metadata, timestamps or check)', () => {
  const r = base('checked', { ttlMs: 10_000, metadata: { team: 'x' }, check: { tcp: '10.0.0.1:8080', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 1 } });
  const facts = instanceFacts(toInstance(r, 3));
  assert.deepEqual(Object.keys(facts).sort(), ['address', 'health', 'id', 'ports', 'source', 'weight', 'zone']);
  assert.ok(!isRestInstance(facts));
  assert.equal(facts.health, 'healthy');
});
