# Build stage: compile TypeScript with the dev dependencies. The image's Node is the project's major (24), so
# the optional "node" package (which pins Node 24 on machines whose system Node is older) is left out.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# A C compiler for the native addons (native/: UDP by recvmmsg/sendmmsg, the C heap trimmed, the executable's pages
# handed back); Node's headers are in the image.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=optional
COPY tsconfig.json ./
COPY src ./src
COPY native ./native
COPY scripts ./scripts
# required: an image without the addon would silently answer UDP through node:dgram, a third more CPU a query.
# The Kubernetes client bundled (scripts/bundle-kube-client.mjs): without it the image carries ~10-25 MB more.
RUN MESHDNS_NATIVE=required MESHDNS_BUNDLE=required npm run build && npm prune --omit=dev --omit=optional

# Runtime: production dependencies and the compiled server only (dist/ holds the UDP addon, plain C against
# Node-API and libc: nothing more to install), as a non-root user. The SQLite store is Node's own node:sqlite.
FROM node:24-bookworm-slim
WORKDIR /app
# MALLOC_ARENA_MAX=2 (the same as npm start): glibc gives each thread that allocates an arena of its own (up to
# 8 a core), and the memory they free stays in them; two arenas took 13-15 MB off a process at 100,000 Kubernetes
# endpoints and 14-17 MB off --workers 2 at 100,000 instances, with no measurable cost to the answer path
# (docs/performance.md, "glibc's arenas").
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY zones ./zones
USER 1000:1000
EXPOSE 1053/udp 1053/tcp 8053/tcp
HEALTHCHECK --interval=10s --timeout=2s CMD node -e "fetch('http://127.0.0.1:8053/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The command is the program; the subcommand and flags are arguments, so a Kubernetes `args:` that starts with
# "serve" (as the Deployment's does) replaces CMD and composes `node dist/cli.js serve ...`.
# --max-semi-space-size=2 (the same as npm start): Node 24's default young generation held ~100 MB more at 100,000
# instances for no measurable throughput, and a small one halves the collection pauses that set DNS tail latency
# (README, Performance).
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/cli.js"]
CMD ["serve", "--dns", "0.0.0.0:1053", "--http", "0.0.0.0:8053"]
