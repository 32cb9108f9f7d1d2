FROM alpine
RUN --network=bridge true
