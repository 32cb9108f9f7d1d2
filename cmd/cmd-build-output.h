/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* kiln build's docker/buildx outputs: --output, --iidfile, --metadata-file, '-' as context. */
#include <stdbool.h>

#include "util/strv.h"

struct kiln_error;
struct digest;
struct build_opts;

enum build_output_type {
	BUILD_OUTPUT_IMAGE = 0, /* the store only (the default) */
	BUILD_OUTPUT_LOCAL, /* the final filesystem, as a directory */
	BUILD_OUTPUT_TAR, /* the same, as a tarball */
	BUILD_OUTPUT_OCI, /* an oci-archive */
	BUILD_OUTPUT_DOCKER, /* a docker-archive */
};

struct build_output {
	enum build_output_type type;
	char *dest; /* "-": stdout (not for local) */
	const char *name; /* docker: the RepoTags name (NULL: the digest), not owned */
};

/* kaniko's flags, aliases of kiln's (README.md, "Coming from kaniko"); strings are argv's */
struct build_kaniko {
	bool destination, no_push;
	const char *digest_file, *tar_path, *context, *dockerfile;
	char *joined; /* --dockerfile inside the context, owned */
};

/* "type=local,dest=DIR", "type=tar,dest=F", "type=oci|docker,dest=F", "DIR", "-". */
int build_output_parse(const char *spec, struct build_output *ret, struct kiln_error **err);
void build_output_release(struct build_output *o);
/* Write the image @manifest of the store at @root to @o. */
int build_output_write(const char *root, const struct digest *manifest,
		       const struct build_output *o, struct kiln_error **err);
/* --iidfile: the image ID, no newline. --metadata-file: buildx's JSON. */
int build_write_iidfile(const char *path, const char *image_id, struct kiln_error **err);
/* --digest-file: the image's manifest digest, "sha256:...", no newline (kaniko's). */
int build_write_digest_file(const char *path, const struct digest *manifest,
			    struct kiln_error **err);
int build_write_metadata(const char *path, const char *root, const struct digest *manifest,
			 const struct strv *tags, struct kiln_error **err);
/*
 * "-" as the context: stdin is a tar (maybe compressed), extracted into a
 * temporary directory, or a Dockerfile (with an empty context). Sets
 * o->context_dir (and o->dockerfile), to strings pushed to @owned; *ret_tmp is
 * the directory to remove after the build.
 */
int build_stdin_context(struct build_opts *o, struct strv *owned, char **ret_tmp,
			struct kiln_error **err);
