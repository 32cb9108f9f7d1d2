ARG BASE=debian:12
FROM ${BASE} AS deps
RUN apt-get update

FROM deps AS build
COPY . /src
RUN make -C /src

FROM scratch AS final
COPY --from=build /src/out /
FROM final
