# syntax=docker/dockerfile:1
#
# pairprog-relay in a small image: a Rust builder stage, then Debian slim with the one
# binary, run as an unprivileged user. Build from the repository root:
#
#     docker build -t pairprog-relay .
#
# See docs/DEPLOYING.md. This image was written without a Docker engine at hand: its
# build has not been run on the machine that wrote it.

# The toolchain the workspace is tested with; the lockfile is built as it is (--locked).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# The whole workspace is needed: Cargo resolves every member even to build one package,
# and the relay embeds migrations/ at compile time.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p pairprog-relay \
    && install -m 0755 target/release/pairprog-relay /usr/local/bin/pairprog-relay

FROM debian:bookworm-slim
# curl is there for the health check only; ca-certificates lets an operator's own
# scripts in the container reach HTTPS endpoints.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/pairprog \
        --create-home --shell /usr/sbin/nologin pairprog
COPY --from=builder /usr/local/bin/pairprog-relay /usr/local/bin/pairprog-relay

# Inside the container the relay must listen on every interface for the published port
# to reach it; docker-compose.yml publishes that port on the host's loopback only.
ENV PAIRPROG_LISTEN=0.0.0.0:8787 \
    PAIRPROG_DATA_DIR=/var/lib/pairprog \
    PAIRPROG_LOG_FORMAT=json
USER pairprog:pairprog
WORKDIR /var/lib/pairprog
EXPOSE 8787

# Plain HTTP first; when the relay serves TLS (--tls-cert) that attempt fails at once and
# the HTTPS one answers. -k because this only asks whether the process answers, on its
# own loopback, not whether the certificate names this host.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS --max-time 3 http://127.0.0.1:8787/liveness \
        || curl -fsSk --max-time 3 https://127.0.0.1:8787/liveness \
        || exit 1

# SIGTERM (docker stop) makes the relay finish its commits and close connections.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pairprog-relay"]
