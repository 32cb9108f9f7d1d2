#!/bin/sh
echo "$GREETING"
echo "running as $(id -un) in $(pwd)"
cat /data/build-info
