// gRPC health servers for the gRPC probe benchmark, in their own process so their CPU is not counted as
// meshdns's: one server on 0.0.0.0 that every 127.x.y.z address reaches, so each instance can have a target
// (and a channel) of its own, as pods do.
import { GrpcHealthServer } from '../support/grpc-health-server.js';

const server = await GrpcHealthServer.start({ '': 'SERVING', 'bench.v1.Svc': 'SERVING' }, undefined, '0.0.0.0');
process.stdout.write(JSON.stringify({ port: server.port }) + '\n');
