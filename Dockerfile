# syntax=docker/dockerfile:1
# The action's image: `promote` built once, shipped on `scratch` with only what it links
# (.ci/rootfs). Releases point action.yml at the prebuilt image by digest; this file is built
# only when a workflow uses the action from a branch.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin promote \
 && .ci/rootfs target/release/promote /rootfs

# Runtime stage: .ci/image-test builds exactly this stage from a binary built on the host.
FROM scratch
COPY --from=build /rootfs/ /
ENTRYPOINT ["/promote"]
