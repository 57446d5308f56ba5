# berth's container image: a static berth binary on an empty base (no shell,
# no package manager), running as user berth (65532:65532), data in the
# volume /var/lib/berth, listening on port 5000.
#
#   docker build -t berth .
#       Builds berth from source in a golang stage.
#
#   CGO_ENABLED=0 go build -o bin/berth ./cmd/berth
#   docker build --target prebuilt -t berth .
#       Packs the static binary you built; pulls no image, works offline.
#       bin/berth must be statically linked (CGO_ENABLED=0): the image has
#       no C library. It also has no CA certificates; for an https S3
#       endpoint mount a bundle and point SSL_CERT_FILE at it.
#
# The stage order matters for the classic builder (DOCKER_BUILDKIT=0), which
# builds every stage up to the target in file order: "prebuilt" comes before
# the golang stage, so --target prebuilt never touches it. BuildKit builds
# only the stages the target needs.
#
# The image sets BERTH_STORAGE_PATH=/var/lib/berth. Environment variables
# override the config file, so change the data directory with that variable,
# not with storage.path in a mounted config file.

ARG GO_IMAGE=golang:1.26-bookworm

# ---- base: everything but the binary, shared by both images.
FROM scratch AS base
COPY deploy/docker/rootfs/ /
# deploy/docker/empty/ arrives as an empty directory (.dockerignore drops its
# placeholder); copied with --chown it becomes the berth user's data directory.
COPY --chown=65532:65532 deploy/docker/empty/ /var/lib/berth/
ENV BERTH_STORAGE_PATH=/var/lib/berth
WORKDIR /var/lib/berth
USER 65532:65532
VOLUME ["/var/lib/berth"]
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]

# ---- prebuilt: base + bin/berth from the build context.
FROM base AS prebuilt
# The classic builder builds this stage for the default target too, where
# bin/berth may not exist: the empty directory keeps the COPY valid then.
COPY deploy/docker/empty/ bin/berth* /usr/local/bin/

# ---- build: berth from source.
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=dev
RUN CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
	-o /out/berth ./cmd/berth

# ---- the default target: base + the binary built above + CA certificates
# (for S3 over https).
FROM base
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/berth /usr/local/bin/berth
