# Sourced by tests/t06NN-conformance-*.sh after tests/lib.sh: run_conformance
# CORPUS builds that corpus's offline cases with tests/conformance/run.py,
# prints the summary, writes the per-case results to
# $KILN_BUILD/conformance-CORPUS.tsv and fails when a case listed in
# tests/conformance/expected-pass.txt does not pass.
run_conformance() {
	corpus=$1
	need_cmd umoci skopeo python3
	[ -d "$KILN_CONFORMANCE_DIR/$corpus" ] ||
		skip "no $corpus corpus in $KILN_CONFORMANCE_DIR (set KILN_CONFORMANCE_DIR)"
	tar=$(busybox_rootfs_tar)
	mkdir -m 0755 "$T/work"
	set +e
	/usr/bin/env python3 "$KILN_SRC/tests/conformance/run.py" --kiln "$KILN" \
		--corpus "$corpus" --conformance-dir "$KILN_CONFORMANCE_DIR" \
		--busybox-tar "$tar" --workdir "$T/work" --user "$KILN_TEST_USER" \
		--results "$KILN_BUILD/conformance-$corpus.tsv" \
		--expected "$KILN_SRC/tests/conformance/expected-pass.txt" \
		${KILN_CONFORMANCE_ONLY:+--only "$KILN_CONFORMANCE_ONLY"}
	rc=$?
	set -e
	say "per-case results: $KILN_BUILD/conformance-$corpus.tsv"
	[ "$rc" = 0 ] || fail "a case of $corpus that passed before fails now (see REGRESSION above)"
}
