/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which isolation RUN steps get (README.md, "Building in an unprivileged
 * container"): the sandbox of namespaces where it can be made, else chroot
 * isolation over the copy storage. Decided once per build and always said.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "builder/rootfs-internal.h"
#include "sandbox/sandbox.h"
#include "util/log.h"

#include "util/banned.h"

/* Why kiln has no mount namespace of its own (builder_prepare), or NULL. */
static const char *no_private_mounts;

int isolation_private_mounts(struct kiln_error **err)
{
	static char why[128];
	struct kiln_error *e = NULL;
	int errnum;

	if (rootfs_private_mounts(&e) >= 0)
		return 0;
	errnum = e->errnum;
	if (errnum != EPERM && errnum != EACCES && errnum != ENOSYS) {
		*err = e;
		return err_code(e);
	}
	/* root without CAP_SYS_ADMIN where seccomp allows it: a user namespace of its own */
	if (getuid() == 0 && sandbox_own_userns_usable()) {
		struct kiln_error *e2 = NULL;

		if (sandbox_enter_userns_root(&e2) >= 0 && rootfs_private_mounts(&e2) >= 0) {
			err_free(e);
			return 0;
		}
		log_debug("build: %s", e2->msg);
		err_free(e2);
	}
	/* root in a container: no namespace, no mount; what needs none still works */
	snprintf(why, sizeof(why), "%s", e->msg);
	err_free(e);
	no_private_mounts = why;
	log_debug("build: no private mounts: %s", why);
	return 0;
}

enum build_isolation builder_auto_isolation(const char **ret_why)
{
	const char *why = no_private_mounts;

	if (!why && sandbox_namespaces_usable(&why))
		return BUILD_ISOLATION_SANDBOX;
	if (ret_why)
		*ret_why = why;
	return BUILD_ISOLATION_CHROOT;
}

static int decide(struct build_ctx *b, struct kiln_error **err)
{
	const char *why = NULL;
	enum build_isolation auto_iso = builder_auto_isolation(&why);

	switch (b->opts->isolation) {
	case BUILD_ISOLATION_SANDBOX:
		if (auto_iso != BUILD_ISOLATION_SANDBOX)
			return err_new(err, KILN_ERR_SYSTEM, EPERM,
				       "--isolation=sandbox: the sandbox's namespaces cannot be "
				       "made here (%s); --isolation=chroot works without them",
				       why);
		if (sandbox_reduced_why())
			build_message(b, "isolation: reduced sandbox (as asked; %s)",
				      sandbox_reduced_why());
		else
			build_message(b, "isolation: sandbox (namespaces, as asked)");
		return BUILD_ISOLATION_SANDBOX;
	case BUILD_ISOLATION_CHROOT:
		build_message(b, "isolation: chroot (as asked: --isolation=chroot)");
		return BUILD_ISOLATION_CHROOT;
	default:
		if (auto_iso == BUILD_ISOLATION_SANDBOX && sandbox_reduced_why())
			build_message(b, "isolation: reduced sandbox (%s)", sandbox_reduced_why());
		else if (auto_iso == BUILD_ISOLATION_SANDBOX)
			build_message(b, "isolation: sandbox (user, mount, pid, uts and ipc "
					 "namespaces can be made)");
		else
			build_message(b, "isolation: chroot (no namespaces: %s)", why);
		return auto_iso;
	}
}

/*
 * RUN's default network in the reduced sandbox, which is a container's: pasta
 * and slirp4netns need /dev/net/tun, which a container lacks and its user
 * cannot add. RUN then uses the container's network, as chroot isolation does
 * (and as --network=host would), and the progress says so; on a host the
 * missing device is an error naming the fix (sandbox-net.c).
 */
static void decide_network(struct build_ctx *b)
{
	if (b->opts->network != BUILD_NETWORK_DEFAULT || !sandbox_reduced_why() ||
	    access("/dev/net/tun", R_OK | W_OK) == 0)
		return;
	b->container_network = true;
	build_message(b,
		      "network: the container's, as --network=host (no usable /dev/net/tun for "
		      "pasta or slirp4netns: %s)",
		      strerror(errno));
}

int build_isolation_locked(struct build_ctx *b, struct kiln_error **err)
{
	int r;

	if (b->isolation >= 0)
		return b->isolation;
	r = decide(b, err);
	if (r == BUILD_ISOLATION_SANDBOX)
		decide_network(b);
	if (r >= 0)
		b->isolation = r;
	return r;
}
