# xlgo image: gtm, coordinator and xlctl, plus psql for the register and
# regress services. Datanodes use the official postgres:15 image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# pg_query_go needs cgo (gcc is in the golang image).
RUN CGO_ENABLED=1 go build -o /out/gtm ./cmd/gtm \
 && CGO_ENABLED=1 go build -o /out/coordinator ./cmd/coordinator \
 && CGO_ENABLED=1 go build -o /out/xlctl ./cmd/xlctl

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-client-15 diffutils ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/xlgo xlgo \
 && mkdir -p /var/lib/xlgo/gtm /var/lib/xlgo/coord1 /var/lib/xlgo/coord2 \
 && chown -R xlgo: /var/lib/xlgo
COPY --from=build /out/gtm /out/coordinator /out/xlctl /usr/local/bin/
COPY docker/xlgo.compose.yaml /etc/xlgo/xlgo.yaml
USER xlgo
WORKDIR /var/lib/xlgo
EXPOSE 6666 20004 20005
CMD ["xlctl", "--help"]
