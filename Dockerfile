# One image for the bot host and the workers (docker-compose.yml picks the command). Not built or run in this
# repository's CI (no Docker there): test/deploy-files.test.ts checks what can be checked without it.
FROM node:20-bookworm-slim

# ffmpeg for MP4 encoding (the npm fallback binary works too). No C++ toolchain: every native dependency (libSQL,
# sharp, onnxruntime-node, esbuild) installs prebuilt from the npm registry.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
  && rm -rf /var/lib/apt/lists/*

# allowScripts in package.json (which denies onnxruntime-node's CUDA download) needs npm 11.16 or newer.
RUN npm install -g npm@11.19.1

WORKDIR /app
# Dependencies first, so a code change does not reinstall them; postinstall generates the Prisma clients.
COPY package.json package-lock.json .npmrc prisma.config.ts prisma.postgres.config.ts ./
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY . .
RUN mkdir -p data && chown -R node:node data
USER node

ENV NODE_ENV=production
CMD ["npm", "run", "bot"]
