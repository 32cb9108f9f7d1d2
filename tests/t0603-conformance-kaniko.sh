#!/bin/sh
# Conformance: kaniko's integration Dockerfiles marked offline (must build), built rootless
# with kiln from the corpus in $KILN_CONFORMANCE_DIR (read in place) and checked
# against their expectations; see tests/conformance/run.py.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/conformance/wrapper.sh"
run_conformance kaniko
