# syntax=docker/dockerfile:1
# The operator's image for those who have Docker or BuildKit (docs/image.md). `make image` builds the same
# content without a Docker engine (umoci); both lay out the root filesystem with scripts/image-rootfs.sh, the
# one list of the image's files: the stripped binary (/spin-operator, and /manager as upstream named it), the
# shared libraries ldd lists and the loader, Debian's CA bundle, passwd/group entries for 65532. No shell.
#
#   docker build --build-arg GIT_REVISION=$(git rev-parse HEAD) \
#     --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) -t ghcr.io/spinkube/spin-operator-c:v$(cat VERSION) .
#
# VERSION below is stamped by `make set-version` and checked against the file VERSION by make test.
ARG VERSION=0.1.0

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
ARG GIT_REVISION=unknown
ARG SOURCE_DATE_EPOCH
RUN make -j"$(nproc)" build GIT_REVISION="$GIT_REVISION" && \
	scripts/image-rootfs.sh build/release/bin/spin-operator /rootfs

FROM scratch
ARG VERSION
ARG GIT_REVISION=unknown
COPY --from=build /rootfs/ /
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/spin-operator"]
LABEL org.opencontainers.image.title="spin-operator" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.revision="${GIT_REVISION}" \
	org.opencontainers.image.source="https://github.com/spinkube/spin-operator-c"
