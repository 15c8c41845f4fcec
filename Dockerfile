# rpzfw as a container: a static binary on a minimal base, run as a
# non-root user, keeping its state in /data.
#
#   docker build -t rpzfw --build-arg VERSION=v0.4.0 .
#   docker run -p 8080:8080 -v rpzfw-data:/data rpzfw
#
# The build needs the Go module proxy; the image needs nothing else.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# modernc.org/sqlite is pure Go, so the binary needs no C library.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/rpzfw ./cmd/rpzfw \
 && mkdir -p /out/data

# distroless/static: CA certificates and time zone data, no shell, no
# package manager; nonroot is uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rpzfw /usr/local/bin/rpzfw
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV RPZFW_DATA_DIR=/data \
    RPZFW_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/rpzfw", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/rpzfw"]
CMD ["serve"]
