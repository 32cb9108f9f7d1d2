ARG VERSION=1.0 OTHER
ARG QUOTED="a b" EMPTY=
FROM alpine:${VERSION}
ARG VERSION
ENV A=1 B="two words" C=three\ words D='single $x'
ENV LEGACY value with   spaces
LABEL org.opencontainers.image.title="kiln" \
      description="a \"quoted\" word"
LABEL legacy-key legacy value
