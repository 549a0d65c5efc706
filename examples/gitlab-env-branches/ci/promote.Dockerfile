# The job image for .gitlab-ci.yml: GitLab's runner runs `script:` with a shell, and the release
# image (`FROM scratch`) has none. Pin the release by digest; the binary's libraries come from the
# same Debian release it was built on.
FROM ghcr.io/acme/promote@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS promote
FROM debian:bookworm-slim
COPY --from=promote / /
RUN ln -s /promote /usr/local/bin/promote && promote --version
