/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * builder/: the one public header of the builder module: build an image from
 * a Dockerfile. The RUN sandbox is sandbox/'s (sandbox/sandbox.h), the COPY/ADD
 * engine copy/'s (copy/copy.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kiln_error;

/* ---- building an image ---------------------------------------------------------------- */

#include "util/strv.h"

/*
 * cmd/ fills a build_opts, supplies the event callbacks it renders as tty,
 * plain or json progress, and calls builder_build().
 */
enum build_network {
	BUILD_NETWORK_DEFAULT = 0, /* a private namespace through pasta or slirp4netns */
	BUILD_NETWORK_HOST,
	BUILD_NETWORK_NONE,
};

/* When an image named by FROM, COPY --from or RUN --mount=from is pulled. */
enum build_pull {
	BUILD_PULL_MISSING = 0, /* only when the store lacks it */
	BUILD_PULL_ALWAYS, /* once per build, even when stored (a moved tag is seen) */
	BUILD_PULL_NEVER, /* never: a missing image is an error */
};

/* How a step sees its parent's files: --storage=overlay|copy. */
enum build_storage {
	BUILD_STORAGE_AUTO = 0, /* overlay where it can be mounted, else copy */
	BUILD_STORAGE_OVERLAY, /* overlayfs over the layers' snapshots */
	BUILD_STORAGE_COPY, /* a plain copy, diffed by walking it (slower) */
};

/* How RUN steps are isolated: --isolation=auto|sandbox|chroot (builder/isolation.c). */
enum build_isolation {
	BUILD_ISOLATION_AUTO = 0, /* the sandbox where its namespaces can be made, else chroot */
	BUILD_ISOLATION_SANDBOX, /* namespaces: an error where they cannot be made */
	BUILD_ISOLATION_CHROOT, /* chroot(2) over the copy storage, no namespace */
};

/*
 * What auto picks here and why (a static string), before any build: the
 * chroot isolation when kiln could not make its own mount namespace
 * (builder_prepare) or the sandbox's namespaces cannot be made.
 */
enum build_isolation builder_auto_isolation(const char **ret_why);

struct registry_opts;
struct digest;

struct build_opts {
	const char *context_dir; /* the build context directory */
	const char *dockerfile; /* path, "-" for stdin; NULL: CONTEXT/Dockerfile */
	const char *store_root; /* NULL: the default store */
	struct strv tags; /* names given to -t */
	struct strv build_args; /* K=V, or K alone to take it from the environment */
	struct strv labels; /* K=V added to the final image */
	struct strv no_cache_filter; /* stages to rebuild without the cache */
	const char *target; /* --target STAGE, or NULL for the last stage */
	bool no_cache;
	enum build_network network;
	bool allow_insecure; /* --allow security.insecure: RUN --security=insecure may run */
	bool allow_network_host; /* --allow network.host: RUN --network=host may run */
	int64_t source_date_epoch; /* -1: not set */
	const char *compression; /* "gzip" (default), "zstd", "none" */
	int jobs; /* parallel stages, 0: number of cores */
	struct strv secrets; /* id=ID,src=PATH | id=ID,env=VAR */
	struct strv ssh; /* default[=SOCKET] */
	enum build_pull pull;
	enum build_storage storage;
	enum build_isolation isolation;
	const struct registry_opts *registry; /* TLS, credentials for pulls; NULL: defaults */
	struct digest *ret_manifest; /* when not NULL: set to the image's manifest digest */
	struct strv annotations; /* K=V for the manifest's annotations (--annotation) */
	struct strv cache_to; /* --cache-to values, as given ("type=local,dest=DIR", "REF") */
	struct strv cache_from; /* --cache-from values */
	struct strv add_hosts; /* --add-host HOST:IP for RUN's /etc/hosts (sandbox_host_parse) */
	unsigned long long shm_size; /* --shm-size: RUN's /dev/shm in bytes, 0: 64 MiB */
	struct strv ulimits; /* --ulimit NAME=SOFT[:HARD] for RUN (sandbox_ulimit_parse) */
	/*
	 * --platform values ("os/arch[/variant]", each may be a comma list):
	 * none builds for this machine; one gives a manifest for it; several,
	 * one manifest each under an OCI image index the tags name.
	 */
	struct strv platforms;
	struct strv build_contexts; /* --build-context NAME=VALUE, as given */
};

/* ---- running an image (kiln run) ------------------------------------------------------ */

struct run_opts {
	const char *store_root; /* NULL: the default store */
	const char *image;
	struct strv cmd; /* replaces the image's Cmd when not empty */
	const char *entrypoint; /* --entrypoint: replaces the image's, "" clears it; NULL keeps */
	struct strv env; /* -e K=V, or K alone to take it from kiln's environment */
	const char *user; /* --user USER[:GROUP]; NULL: the image's User */
	const char *workdir; /* -w; NULL: the image's WorkingDir */
	enum build_network network;
	struct strv volumes; /* -v HOST:CTR[:ro|rw] */
	bool interactive; /* -i: stdin is kiln's, else /dev/null */
	bool tty; /* -t: the command gets a pseudo-terminal of its own */
	enum build_pull pull;
	const struct registry_opts *registry;
};

void run_opts_init(struct run_opts *o);
void run_opts_release(struct run_opts *o);
/*
 * Run the image's entrypoint and command in the sandbox RUN steps use, over a
 * throwaway overlay of its snapshots, and wait for it: *ret_status is its exit
 * status (128+signal when killed). Call builder_prepare() first.
 */
int builder_run(const struct run_opts *o, int *ret_status, struct kiln_error **err);

enum build_step_state {
	BUILD_STEP_RUNNING,
	BUILD_STEP_CACHED,
	BUILD_STEP_DONE,
	BUILD_STEP_FAILED,
};

struct build_step_info {
	unsigned id; /* unique within the build, from 1 */
	unsigned stage; /* stage index, from 0 */
	const char *stage_name; /* "AS name" or NULL */
	/* in a multi-platform build, the pass's platform ("linux/arm64"), or for a stage
	 * on another one, both as BuildKit shows them ("linux/amd64->arm64"); else NULL */
	const char *platform;
	unsigned index, total; /* step index within its stage, from 1 */
	const char *text; /* "RUN make", as written */
	enum build_step_state state;
	double seconds; /* for DONE and FAILED */
	int exit_status; /* for FAILED RUN steps, else -1 */
};

/* Progress callbacks; any may be NULL. Called from the building thread(s). */
struct build_events {
	void *userdata;
	void (*step)(void *userdata, const struct build_step_info *step);
	/* Output of a running RUN step, in chunks as they arrive. */
	void (*output)(void *userdata, const struct build_step_info *step, const char *buf,
		       size_t len);
	/* A line of information ("naming to busybox:1"). */
	void (*message)(void *userdata, const char *msg);
	/*
	 * A warning from any module during the build ("one or more build args
	 * were not consumed: [X]"), without "kiln: warning: ". Without it,
	 * warnings go to stderr.
	 */
	void (*warning)(void *userdata, const char *msg);
};

void build_opts_init(struct build_opts *o);
void build_opts_release(struct build_opts *o);
/*
 * Call once, early, while the process has one thread: become root of a user
 * namespace (rootless) or enter a private mount namespace (real root), so the
 * build can mount overlays of its own.
 */
int builder_prepare(struct kiln_error **err);

/*
 * Build and store the image. On success *ret_image_id is the config digest
 * ("sha256:...") and the tags name the manifest in the store's index.json;
 * for several platforms, both are the image index's digest.
 */
int builder_build(const struct build_opts *opts, const struct build_events *ev, char **ret_image_id,
		  struct kiln_error **err);
