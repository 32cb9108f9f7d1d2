FROM alpine
EXPOSE 80 53/udp 8000-8010/tcp
HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=500ms --retries=3 \
  CMD ["wget", "-q", "-O-", "http://localhost/"]
HEALTHCHECK NONE
ONBUILD COPY . /src
ONBUILD RUN make
STOPSIGNAL SIGRTMIN+3
USER app:app
VOLUME /data /logs
VOLUME ["/json vol"]
WORKDIR /srv
ENTRYPOINT ["/bin/server", "--port", "80"]
CMD []
