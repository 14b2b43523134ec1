# syntax=docker/dockerfile:1
# klagx container image: a static binary on distroless (nonroot, UID 65532).
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t klagx .

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/klagx ./cmd/klagx

# static-debian12 has CA certificates (for TLS to Kafka), tzdata and
# /etc/passwd entries; the :nonroot tag runs as 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/klagx /klagx
USER 65532:65532
EXPOSE 9308
ENTRYPOINT ["/klagx"]
CMD ["serve"]
