# syntax=docker/dockerfile:1
#
# One image for the five services of the rotation orchestrator and the operator CLI,
# compiled to JavaScript: the runtime stage holds Node and the compiled programs only (no
# TypeScript loader, no node_modules, no sandbox, no tests). The command names the program:
#
#   docker build -t caracal-rotation .
#   docker run caracal-rotation services/planner/dist/main.js
#   docker run caracal-rotation services/roller/dist/main.js
#   docker run caracal-rotation apps/caracal-rotate/dist/caracal-rotate.js --help
#
# Stages: `manifests` (package.json files only, so the dependency layer stays cached while
# the sources change), `build` (every dependency; type-checks and compiles what ships),
# `runtime` (the compiled programs and a non-root user).

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- manifests: the lockfile and every workspace's package.json, in place --------------
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /out \
 && find . -name package.json -not -path '*/node_modules/*' -exec cp --parents '{}' /out/ ';' \
 && cp package-lock.json /out/

# ---- build: a tree that does not type-check never becomes an image ------------------------
FROM ${NODE_IMAGE} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
COPY --from=manifests /out/ ./
# Install scripts are not needed to compile (only native extras of test tooling use them).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY . .
ARG PROGRAMS="@caracal-rotation/planner @caracal-rotation/secret-writer @caracal-rotation/roller @caracal-rotation/verifier @caracal-rotation/recorder @caracal-rotation/caracal-rotate"
RUN npx --no-install nx run-many -t typecheck build --projects="$(echo $PROGRAMS | tr ' ' ',')" --outputStyle=static \
 && mkdir -p /dist \
 && for p in services/*/dist apps/caracal-rotate/dist; do mkdir -p "/dist/$p" && cp "$p"/*.js "/dist/$p/"; done \
 && mkdir -p /dist/apps/caracal-rotate/bin && cp apps/caracal-rotate/bin/caracal-rotate.js /dist/apps/caracal-rotate/bin/ \
 && printf '{"type":"module","private":true}\n' > /dist/package.json

# ---- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG APP_UID=10001
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=9400 \
    CARACAL_SECRETS_DIR=/var/lib/caracal/secrets \
    CARACAL_ROTATION_DIR=/var/lib/caracal/rotation \
    PATH=/app/apps/caracal-rotate/bin:$PATH
WORKDIR /app

# The user every service runs as. Directories holding secrets must be owned by it with mode
# 0700 (the secret-writer refuses anything looser); a new Docker volume mounted here copies
# the directory's owner and mode.
RUN groupadd --system --gid "${APP_UID}" caracal \
 && useradd --system --uid "${APP_UID}" --gid "${APP_UID}" --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin caracal \
 && install -d -o "${APP_UID}" -g "${APP_UID}" -m 0700 /var/lib/caracal/secrets /var/lib/caracal/rotation \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn*

# Programs owned by root and read-only to the service user.
COPY --from=build /dist/ ./

USER ${APP_UID}:${APP_UID}
EXPOSE 9400
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||9400)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["node"]
CMD ["services/planner/dist/main.js"]
