FROM alpine
ENTRYPOINT ["a", {"b": 1}]
