import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance } from 'fastify';
import { lazySchemaCompilers } from '../../src/http/lazy-schema-compilers.js';

const require = createRequire(import.meta.url);
const loaded = (name: string): boolean => Object.keys(require.cache).some((path) => path.includes(`/node_modules/${name}/`));

const body = {
  type: 'object',
  required: ['address'],
  additionalProperties: false,
  properties: { address: { type: 'string', maxLength: 15 }, weight: { type: 'integer', minimum: 0, maximum: 1000 } },
};
const params = { type: 'object', properties: { ns: { type: 'string', pattern: '^[a-z0-9-]+$' } } };

function app(lazy: boolean): FastifyInstance {
  const ajv = { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } };
  const server = Fastify(lazy ? { ajv, schemaController: { compilersFactory: lazySchemaCompilers() } } : { ajv });
  server.put('/v1/:ns', { schema: { params, body } }, async (req) => ({ got: req.body }));
  server.get('/v1/:ns/out', { schema: { response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } } } }, async () => ({ n: 7, dropped: true }));
  return server;
}

const requests = [
  { ns: 'shop', payload: { address: '10.0.0.1', weight: 5 } },
  { ns: 'shop', payload: { weight: 5 } },
  { ns: 'shop', payload: { address: '10.0.0.1', extra: 1 } },
  { ns: 'shop', payload: { address: '10.0.0.1', weight: '5' } },
  { ns: 'shop', payload: { address: '10.0.0.1.10.0.0.1', weight: 1 } },
  { ns: 'Shop_', payload: { address: '10.0.0.1' } },
];

test('request schemas are compiled on first use, not at start: Ajv is not loaded by a server nobody writes to', async () => {
  const server = app(true);
  await server.ready();
  assert.equal(loaded('ajv'), false, 'Ajv loaded at start');
  const reply = await server.inject({ method: 'PUT', url: '/v1/shop', payload: { address: '10.0.0.1' } });
  assert.equal(reply.statusCode, 200);
  assert.equal(loaded('ajv'), true, 'Ajv not loaded when a route validated');
  await server.close();
});

test('the lazy compiler answers every request as Fastify with its own does: statuses, bodies, validation messages; response schemas still apply', async () => {
  const lazy = app(true);
  const eager = app(false);
  for (const r of requests) {
    // Twice: the first call compiles, the second uses the compiled validator.
    for (let i = 0; i < 2; i++) {
      const a = await lazy.inject({ method: 'PUT', url: `/v1/${r.ns}`, payload: r.payload });
      const b = await eager.inject({ method: 'PUT', url: `/v1/${r.ns}`, payload: r.payload });
      assert.equal(a.statusCode, b.statusCode, JSON.stringify(r));
      assert.equal(a.body, b.body, JSON.stringify(r));
    }
  }
  const a = await lazy.inject({ method: 'GET', url: '/v1/shop/out' });
  const b = await eager.inject({ method: 'GET', url: '/v1/shop/out' });
  assert.equal(a.body, b.body);
  assert.deepEqual(JSON.parse(a.body), { n: 7 }, 'the response schema was not applied');
  await Promise.all([lazy.close(), eager.close()]);
});
