import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

/**
 * Fastify's schema compilers (its own @fastify/ajv-compiler and @fastify/fast-json-stringify-compiler, with the
 * server's options), loaded when a route first validates a request or serializes a response by a schema, instead
 * of when the server starts. Fastify requires both at construction (the serializer's compiler loads Ajv too) and
 * compiles every route's request schemas at start: Ajv is ~90 modules, and a server that is never written to
 * (Kubernetes only, or registrations read from its store at start) carried them and the compiled validators all
 * its life: 2 MB of heap and resident memory at start (no instances, three starts each, 2026-11-29). Validation is
 * the same Ajv with the same options; a schema Ajv cannot compile fails the first request that uses it instead of
 * the start (the route tests exercise every schema).
 *
 * Pass as Fastify's `schemaController: { compilersFactory: lazySchemaCompilers() }`.
 */

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type BuildValidator = NonNullable<CompilersFactory['buildValidator']>;
type CompileValidator = ReturnType<BuildValidator>;
type Validate = ReturnType<CompileValidator>;
type BuildSerializer = NonNullable<CompilersFactory['buildSerializer']>;
type CompileSerializer = ReturnType<BuildSerializer>;
type Serialize = ReturnType<CompileSerializer>;

const requireFromHere = createRequire(import.meta.url);

export function lazySchemaCompilers(): Required<CompilersFactory> {
  let validatorBuilder: BuildValidator | undefined;
  let serializerBuilder: BuildSerializer | undefined;
  return {
    buildValidator: (externalSchemas, ajvOptions) => {
      let compiler: CompileValidator | undefined;
      return (route) => {
        let validate: Validate | undefined;
        const lazy: ((data: unknown) => boolean | Promise<unknown>) & { errors?: Validate['errors'] } = (data) => {
          if (validate === undefined) {
            validatorBuilder ??= (requireFromHere('@fastify/ajv-compiler') as () => BuildValidator)();
            compiler ??= validatorBuilder(externalSchemas, ajvOptions);
            validate = compiler(route);
          }
          const result = validate(data);
          // Fastify reads a failure's details from the function it called.
          lazy.errors = validate.errors;
          return result;
        };
        // Fastify calls the function and reads its `errors`; Ajv's other fields (its schema) it does not use.
        return lazy as unknown as Validate;
      };
    },
    buildSerializer: (externalSchemas, serializerOptions) => {
      let compiler: CompileSerializer | undefined;
      return (route) => {
        let serialize: Serialize | undefined;
        return (data) => {
          if (serialize === undefined) {
            serializerBuilder ??= (requireFromHere('@fastify/fast-json-stringify-compiler') as () => BuildSerializer)();
            compiler ??= serializerBuilder(externalSchemas, serializerOptions);
            serialize = compiler(route);
          }
          return serialize(data);
        };
      };
    },
  };
}
