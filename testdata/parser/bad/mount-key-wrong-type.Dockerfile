FROM alpine
RUN --mount=type=tmpfs,target=/x,from=build true
