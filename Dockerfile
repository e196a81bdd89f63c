# syntax=docker/dockerfile:1
#
# valkey-slot-exporter: a static-ish Rust binary on a distroless runtime.
#
#   docker build -t valkey-slot-exporter .
#   docker run --rm -p 9765:9765 valkey-slot-exporter --nodes redis://valkey-1:6379
#
# Multi-stage: the build stage compiles with the full Rust toolchain; the runtime
# stage holds the binary, glibc and CA certificates (for valkeys://), and nothing to
# log in with: no shell, no package manager. It runs as distroless' `nonroot` user
# (65532), which the Kubernetes manifests in deploy/kubernetes expect.
#
# This file was never built on the machines the project is developed and tested on
# (they run no Docker engine); tests/monitoring_stack.rs checks its structure only.

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /build

# 1. Dependencies, in a layer of their own: rebuilt only when Cargo.toml or Cargo.lock
#    change, not on every source edit. Placeholder sources stand in for src/; the
#    benches are copied because Cargo.toml declares them and cargo refuses a manifest
#    whose targets are missing (they are not built).
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin valkey-slot-exporter \
 && rm -rf src

# 2. The exporter itself. COPY keeps the files' own modification times, which can be
#    older than the placeholder build: touch them so that cargo rebuilds the crate.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin valkey-slot-exporter \
 && install -D -m 0755 target/release/valkey-slot-exporter /out/valkey-slot-exporter

# Debian 12 with glibc and libgcc, matching the rust:*-bookworm build stage.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="valkey-slot-exporter" \
      org.opencontainers.image.description="Prometheus exporter for per-slot statistics (CLUSTER SLOT-STATS) of Valkey clusters" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build /out/valkey-slot-exporter /usr/local/bin/valkey-slot-exporter

# The exporter listens on 0.0.0.0:9765 by default; /healthz serves liveness and
# readiness probes (the image has no shell for a HEALTHCHECK command).
EXPOSE 9765
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/valkey-slot-exporter"]
