# redeliver as a static, shell-less image that runs as a non-root user:
#   docker build -t redeliver .
#   docker run --rm -v redeliver-state:/home/nonroot -e GH_TOKEN redeliver run --org acme --hook 123456
# The state (SQLite) lives in the volume at /home/nonroot/.local/state/redeliver/state.db.
# Releases build the same image from the release binaries (Dockerfile.release).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/redeliver ./cmd/redeliver

# distroless/static: CA certificates, tzdata, /etc/passwd with the nonroot
# user (65532) and its home, and nothing else: no shell, no libc.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/redeliver /usr/local/bin/redeliver
USER 65532:65532
VOLUME ["/home/nonroot"]
ENTRYPOINT ["/usr/local/bin/redeliver"]
CMD ["--help"]
