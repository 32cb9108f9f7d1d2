FROM alpine
COPY <<EOF /x
hello
