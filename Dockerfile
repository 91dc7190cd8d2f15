# Build: a static binary (SQLite is pure Go, so CGO stays off).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wabridge ./cmd/wabridge

# Run: minimal Debian with CA certificates, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin wabridge \
    && mkdir -p /data /etc/wabridge && chown wabridge /data
COPY --from=build /out/wabridge /usr/local/bin/wabridge
COPY deploy/container.toml /etc/wabridge/wabridge.toml
USER wabridge
VOLUME ["/data"]
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/wabridge"]
CMD ["serve", "-config", "/etc/wabridge/wabridge.toml"]
