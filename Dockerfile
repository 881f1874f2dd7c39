# syntax=docker/dockerfile:1
# Vigil in a container (README "Run it in a container"): a multi-stage build into a distroless,
# non-root image. The config and the store live on one volume, /var/lib/vigil: the config at
# /var/lib/vigil/vigil.toml, the sled store beside it in `data/` (the binary's default
# `[store] path`, relative to the config). `tests/it/container.rs` keeps these paths, the port
# and the health check equal to the binary's defaults.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin vigil \
    && mkdir -p /out/var/lib/vigil \
    && cp target/release/vigil /out/vigil

# glibc and CA roots, no shell, no package manager; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/vigil /usr/local/bin/vigil
COPY --from=build --chown=65532:65532 /out/var/lib/vigil /var/lib/vigil
USER 65532:65532
WORKDIR /var/lib/vigil
VOLUME ["/var/lib/vigil"]
# `[server] listen` (default 127.0.0.1:8088; set "0.0.0.0:8088" to publish /metrics and the
# webhook): /healthz, /metrics, POST /v1/alerts. Socket Mode needs no inbound port.
EXPOSE 8088
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/vigil", "health", "--config", "/var/lib/vigil/vigil.toml"]
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["run", "--config", "/var/lib/vigil/vigil.toml"]
