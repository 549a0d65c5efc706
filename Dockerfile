# syntax=docker/dockerfile:1
# Build a static-enough release binary, then ship it on a minimal base with CA certificates.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin promote && cp target/release/promote /promote

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 && rm -rf /var/lib/apt/lists/*
COPY --from=build /promote /usr/local/bin/promote
ENTRYPOINT ["/usr/local/bin/promote"]
