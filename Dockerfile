# syntax=docker/dockerfile:1
#
# One image for the five services of the rotation orchestrator (and the operator CLI and
# the sandbox fleet). The entry point is `node --import tsx`; the command names the
# program:
#
#   docker build -t caracal-rotation .
#   docker run caracal-rotation services/planner/src/main.ts
#   docker run caracal-rotation services/roller/src/main.ts
#   docker run --entrypoint node caracal-rotation --import tsx libs/cli/src/bin/caracal-rotate.ts --help
#
# Stages: `manifests` (package.json files only, so dependency layers stay cached while the
# sources change), `build` (every dependency, type-checks what ships), `runtime`
# (`npm ci --omit=dev`, the checked sources, a non-root user).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- manifests: the lockfile and every workspace's package.json, in place --------------
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /out \
 && find . -name package.json -not -path '*/node_modules/*' -exec cp --parents '{}' /out/ ';' \
 && cp package-lock.json /out/

# ---- build: all dependencies; a tree that does not type-check never becomes an image -------
FROM ${NODE_IMAGE} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
COPY --from=manifests /out/ ./
# Install scripts are not needed to type-check (only native extras of test tooling use them).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY . .
RUN set -e; \
    for project in libs/* services/* deploy/sandbox; do \
      if [ -f "$project/tsconfig.json" ]; then \
        echo "typecheck $project"; \
        npx --no-install tsc -p "$project/tsconfig.json" --noEmit; \
      fi; \
    done
# The sources that ship: no node_modules (the runtime stage installs its own), no tests
# (.dockerignore keeps them out of the context), not the test-infrastructure library.
RUN mkdir -p /dist \
 && tar --exclude='node_modules' --exclude='*.tsbuildinfo' --exclude='libs/testing/src' \
      -cf - package.json tsconfig.base.json libs services deploy/sandbox \
    | tar -xf - -C /dist

# ---- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG APP_UID=10001
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=9400 \
    CARACAL_SECRETS_DIR=/var/lib/caracal/secrets
WORKDIR /app

# The user every service runs as. The secrets directory must be owned by it with mode 0700
# (the secret-writer refuses anything looser); a new Docker volume mounted here copies this
# directory's owner and mode.
RUN groupadd --system --gid "${APP_UID}" caracal \
 && useradd --system --uid "${APP_UID}" --gid "${APP_UID}" --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin caracal \
 && install -d -o "${APP_UID}" -g "${APP_UID}" -m 0700 /var/lib/caracal/secrets

# Production dependencies only, from the lockfile; no install scripts run.
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts \
 && (node --import tsx --eval "" 2>/dev/null \
     || { echo >&2 "tsx is not installed by 'npm ci --omit=dev': move tsx from devDependencies to dependencies in package.json"; exit 1; })

# Sources owned by root and read-only to the service user.
COPY --from=build /dist/ ./

USER ${APP_UID}:${APP_UID}
EXPOSE 9400
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9400)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["node", "--import", "tsx"]
CMD ["services/planner/src/main.ts"]
