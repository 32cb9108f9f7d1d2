FROM alpine
COPY --chown 1000:1000 a b
