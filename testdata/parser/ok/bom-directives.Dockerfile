# syntax=docker/dockerfile:1.7
#   CHECK = skip=JSONArgsRecommended

from alpine as base
CMD echo hi
