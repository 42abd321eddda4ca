# Build stage: generate code and compile TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY buf.yaml buf.gen.yaml tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY src ./src
COPY web ./web
RUN npx buf generate && npx tsc -p tsconfig.build.json \
  && npx tsc -p web/tsconfig.json \
  && npx esbuild web/src/main.ts --bundle --format=esm --target=es2022 --minify --sourcemap --log-level=warning --outfile=web/dist/app.js

# Runtime: production dependencies only, non-root, an init process for signals.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY proto ./proto
COPY --from=build /app/web ./web
COPY bin ./bin
USER node
EXPOSE 50051 9464
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/app/main.js"]
