/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "util/error.h"

struct store;

/* The store commands (cmd/cmd-images.c, cmd/cmd-transfer.c). */
int cmd_images(int argc, char **argv, struct kiln_error **err);
/* cmd/cmd-images-list.c, with cmd_images */
int cmd_history(int argc, char **argv, struct kiln_error **err);
int cmd_inspect(int argc, char **argv, struct kiln_error **err);
int cmd_tag(int argc, char **argv, struct kiln_error **err);
int cmd_rmi(int argc, char **argv, struct kiln_error **err);
int cmd_fsck(int argc, char **argv, struct kiln_error **err);
int cmd_prune(int argc, char **argv, struct kiln_error **err);
int cmd_import(int argc, char **argv, struct kiln_error **err);
int cmd_pull(int argc, char **argv, struct kiln_error **err);
int cmd_save(int argc, char **argv, struct kiln_error **err);
int cmd_load(int argc, char **argv, struct kiln_error **err);

/* kiln image SUBCOMMAND, kiln system df|prune (cmd/cmd-system.c) */
int cmd_image(int argc, char **argv, struct kiln_error **err);
int cmd_system(int argc, char **argv, struct kiln_error **err);
/* Rootless: enter the build's user namespace to reach snapshots (cmd/cmd-images.c). */
void enter_build_userns(void);

/* Open the store at @root (NULL: $KILN_ROOT or the default), creating it. */
int cmd_open_store(const char *root, struct store **ret, struct kiln_error **err);

/*
 * `kiln pull` dispatches on the transport prefix of its source. A transport
 * with an empty prefix handles everything else (registry references); the
 * registry module adds that row to cmd_pull_transports[] in cmd-transfer.c.
 */
struct cmd_pull_transport {
	const char *prefix; /* "oci:", "oci-archive:", ... */
	int (*pull)(struct store *s, const char *ref, const char *name, struct kiln_error **err);
};
