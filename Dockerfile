# miniauth in a container: the release build (scripts/release, the same
# command that makes the tarballs and the .deb), then the static binary alone
# on distroless/static (CA certificates, time zone data, a non-root user,
# no shell). See docs/docker.md.
#
#   docker build --build-arg VERSION=1.2.0 --build-arg COMMIT=$(git rev-parse --short=12 HEAD) -t miniauth .
#   docker run -d -p 127.0.0.1:8080:8080 -v miniauth-data:/var/lib/miniauth \
#     -e MINIAUTH_WECHAT_APPID=wx… -e MINIAUTH_WECHAT_SECRET=… miniauth

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=unknown
# The builder's own architecture (docker build --platform picks it).
RUN scripts/release --binary-only --arch "$(go env GOARCH)" --out /out \
      --commit "$COMMIT" ${VERSION:+--version "$VERSION"} \
 && mv /out/miniauth-linux-* /out/miniauth \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/miniauth /usr/bin/miniauth
# The data dir, owned by the image's non-root user (uid 65532).
COPY --from=build --chown=65532:65532 /out/data /var/lib/miniauth
ENV MINIAUTH_ENV=production \
    MINIAUTH_ADDR=:8080 \
    MINIAUTH_DATA_DIR=/var/lib/miniauth
VOLUME /var/lib/miniauth
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/bin/miniauth"]
CMD ["serve"]
