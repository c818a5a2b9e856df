# syntax=docker/dockerfile:1
# The Parallax operator: `docker build -t ghcr.io/parallax-ai/parallax-operator:0.1.0 .`
# Runs as `node dist/src/cmd/manager.js` (see charts/parallax and config/manager for the flags).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
COPY examples/ examples/
COPY proto/ proto/
COPY web/ web/
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules/ ./node_modules/
COPY --from=build /src/dist/ ./dist/
COPY --from=build /src/proto/ ./proto/
# 65532 = "nonroot" in distroless images; the chart's securityContext pins the same uid/gid.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/src/cmd/manager.js"]
