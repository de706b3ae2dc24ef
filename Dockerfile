# syntax=docker/dockerfile:1
# Node 24, the current LTS; the app supports Node 20.18+ (package.json engines).
# Build stage: compile TypeScript with the dev toolchain.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: the app, the pinned codex CLI (a dependency, so it comes with node_modules) and git.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/codex-pr-bot \
    HOST=0.0.0.0 \
    PORT=3000
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json app.yml ./
# Run as an unprivileged user; the data dir holds mirrors, worktrees and per-job CODEX_HOMEs.
RUN useradd --system --create-home --home-dir /home/bot bot \
 && mkdir -p /var/lib/codex-pr-bot && chown bot:bot /var/lib/codex-pr-bot
USER bot
VOLUME /var/lib/codex-pr-bot
EXPOSE 3000
# Every agent run starts in its own bubblewrap jail (the bwrap @openai/codex ships; prlimit comes with
# util-linux), as `bot` in a new user namespace. Docker's default seccomp profile refuses those:
# run with --security-opt seccomp=unconfined (and apparmor=unconfined on AppArmor hosts), see README
# "Running in a container". Without it the app fails every job with that fix rather than run unjailed.
CMD ["node_modules/.bin/probot", "run", "./dist/index.js"]
