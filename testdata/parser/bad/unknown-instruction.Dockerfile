FROM alpine
RUNN make
