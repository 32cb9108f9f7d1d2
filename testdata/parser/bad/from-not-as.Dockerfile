FROM alpine INTO build
