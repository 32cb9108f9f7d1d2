FROM --platform=$BUILDPLATFORM golang:1.22 AS build
RUN --mount=type=cache,target=/root/.cache/go-build,sharing=locked \
    --mount=type=bind,source=.,target=/src,ro \
    --mount=type=secret,id=token,env=TOKEN,required=true \
    --mount=type=ssh \
    --mount=type=tmpfs,target=/tmp,size=64m \
    --network=none --security=sandbox \
    go build -o /out/app ./cmd/app
FROM scratch
COPY --from=build --chown=1000:1000 --chmod=0755 --link /out/app /app
COPY --parents --exclude=*.tmp --exclude=*.log ["dir with space/", "/data/"]
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d --chmod=u=rw,go=r https://example.org/a.tar.gz /
ADD --keep-git-dir=true --unpack=false https://github.com/moby/buildkit.git#v0.14 /src
