FROM alpine
ADD --checksum=md5 https://x/y /
