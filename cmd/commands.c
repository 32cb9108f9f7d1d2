/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd-layers.h"
#include "cmd/cmd.h"
#include "kiln-config.h"
#include "util/macro.h"

#include "util/banned.h"

/*
 * The table of subcommands (crun's commands[]). A command is listed here only
 * once it works end to end.
 */
const struct kiln_command kiln_commands[] = {
	{"help", cmd_help, "show help for kiln or for one command",
	 "usage: kiln help [COMMAND]\n"
	 "\n"
	 "Without COMMAND, list the commands. With it, show that command's options.\n"},
	{"version", cmd_version, "print kiln's version",
	 "usage: kiln version\n"
	 "\n"
	 "Print the version of kiln, like `kiln --version`.\n"},
	{"images", cmd_images, "list the images in the store",
	 "usage: kiln images [--root DIR] [--format table|json]\n"
	 "\n"
	 "List the named images: name, image ID (the config digest), created, size.\n"
	 "  --format json   one JSON array of {name, id, digest, created, size}\n"
	 "  --root DIR      the store (default $KILN_ROOT, else $XDG_DATA_HOME/kiln,\n"
	 "                  ~/.local/share/kiln, or /var/lib/kiln for root)\n"},
	{"inspect", cmd_inspect, "show an image's manifest and config as JSON",
	 "usage: kiln inspect [--root DIR] NAME|ID\n"
	 "\n"
	 "Print {Name, Id, Digest, Manifest, Config} of the image as JSON. NAME gets\n"
	 "':latest' when it has no tag; ID is a digest or a unique hex prefix of the\n"
	 "manifest digest or of the image ID.\n"},
	{"tag", cmd_tag, "give an image another name",
	 "usage: kiln tag [--root DIR] SOURCE TARGET\n"
	 "\n"
	 "Name the image SOURCE (a name or ID) also TARGET, replacing any image of that name.\n"},
	{"rmi", cmd_rmi, "remove image names",
	 "usage: kiln rmi [--root DIR] NAME|ID...\n"
	 "\n"
	 "Remove each name; for an ID, every name of that image. Blobs stay until\n"
	 "'kiln prune'.\n"},
	{"import", cmd_import, "make an image from a root filesystem tarball",
	 "usage: kiln import [--root DIR] [--compression gzip|zstd|none] [--format oci|docker]\n"
	 "                   ROOTFS.tar[.gz|.zst]|- NAME\n"
	 "\n"
	 "Like 'docker import': one layer holding the tarball's files, named NAME.\n"
	 "Prints the manifest digest. Timestamps are clamped to $SOURCE_DATE_EPOCH when set.\n"},
	{"pull", cmd_pull, "copy an image into the store",
	 "usage: kiln pull [--root DIR] SOURCE [NAME]\n"
	 "\n"
	 "SOURCE is one of:\n"
	 "  oci:DIR[:REF]             an OCI image layout (REF: its ref.name annotation)\n"
	 "  oci-archive:FILE[:REF]    a tar of an OCI image layout\n"
	 "  docker-archive:FILE[:REF] a 'docker save' archive\n"
	 "Every blob is verified. The image is named NAME, else REF when it has a tag,\n"
	 "else DIRNAME:REF. Prints the manifest digest.\n"},
	{"save", cmd_save, "write an image to an archive",
	 "usage: kiln save [--root DIR] [--format oci-archive|docker-archive|oci-layout] -o FILE NAME\n"
	 "\n"
	 "Write the image as an oci-archive (default) or a docker-archive (for\n"
	 "'docker load' / 'podman load'). FILE is replaced atomically; '-' is stdout.\n"
	 "With oci-layout, FILE is a directory: the image is added to (or replaces its\n"
	 "name in) the OCI image layout there.\n"},
	{"load", cmd_load, "read images from an archive",
	 "usage: kiln load [--root DIR] -i FILE\n"
	 "\n"
	 "Load every named image of an oci-archive or docker-archive (found from the\n"
	 "contents) into the store.\n"},
	{"fsck", cmd_fsck, "check the store",
	 "usage: kiln fsck [--root DIR]\n"
	 "\n"
	 "Verify every blob's digest and every reference (index, manifests, configs,\n"
	 "layers). Prints one line per problem; exit status 1 when there is any.\n"},
	{"prune", cmd_prune, "delete what no image needs",
	 "usage: kiln prune [--root DIR]\n"
	 "\n"
	 "Delete blobs and snapshots that no image or cache entry reaches, and tmp/.\n"
	 "Refuses while another kiln process has the store open. Prints what it freed.\n"},
};

const size_t kiln_n_commands = ARRAY_SIZE(kiln_commands);

const struct kiln_command *cmd_find(const char *name)
{
	for (size_t i = 0; i < kiln_n_commands; i++)
		if (streq(kiln_commands[i].name, name))
			return &kiln_commands[i];
	return NULL;
}

void cmd_print_usage(const struct kiln_command *c)
{
	fputs(c->usage, stdout);
}

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--"))
			break;
		if (streq(argv[i], "--help") || streq(argv[i], "-h"))
			return 1;
	}
	return 0;
}

int cmd_version(int argc, char **argv, struct kiln_error **err)
{
	if (argc > 1)
		return err_usage(err, "version: unexpected argument '%s'", argv[1]);
	printf("kiln %s\n", KILN_VERSION);
	return 0;
}
