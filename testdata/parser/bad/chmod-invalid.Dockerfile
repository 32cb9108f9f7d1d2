FROM alpine
COPY --chmod=rwxr-xr-x a b
