/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd-layers.h"
#include "cmd/cmd-options.h"
#include "cmd/cmd-registry.h"
#include "cmd/cmd.h"
#include "kiln-config.h"
#include "util/macro.h"
#include "util/strbuf.h"

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
	{"completion", cmd_completion, "print shell completion for bash or zsh",
	 "usage: kiln completion bash|zsh|options\n"
	 "\n"
	 "Print a completion script, made from the command table and each command's\n"
	 "option table, the one its parser and 'kiln help COMMAND' are made from (for a\n"
	 "command without one yet, from its help text); zsh shows each option's help.\n"
	 "'meson install' installs both: share/bash-completion/completions/kiln and\n"
	 "share/zsh/site-functions/_kiln. Or: source <(kiln completion bash).\n"
	 "'options' prints what both offer, COMMAND OPTION per line.\n"},
	{"build", cmd_build, "build an image from a Dockerfile",
	 "usage: kiln build [OPTIONS] [CONTEXT|-]\n"
	 "\n"
	 "Build the Dockerfile in CONTEXT (default: the current directory; -: a tar, maybe\n"
	 "compressed, or a Dockerfile with an empty context, on stdin) and store the\n"
	 "image under each -t name. RUN steps run rootless, in a sandbox of namespaces over\n"
	 "overlayfs. Prints the image ID (the config digest) on stdout.\n",
	 cmd_build_options},
	{"info", cmd_info, "show what kiln can do here: store, storage, isolation",
	 "usage: kiln info [--format text|json] [--root DIR]\n"
	 "\n"
	 "Print the store, the storage and the RUN isolation a build would get here and\n"
	 "why, the user namespace, the subordinate ids of the caller, seccomp, overlayfs\n"
	 "and the user-mode network helpers (pasta, slirp4netns). --format json prints\n"
	 "one object with the same keys.\n",
	 cmd_info_options},
	{"check", cmd_check, "report every error and warning in a Dockerfile",
	 "usage: kiln check [-f DOCKERFILE] [CONTEXT]\n"
	 "\n"
	 "Parse DOCKERFILE (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile; - for\n"
	 "stdin) and its ignore file (DOCKERFILE.dockerignore, else CONTEXT/.dockerignore)\n"
	 "without building, and print every error and warning as FILE:LINE:COL with the\n"
	 "source line, like `docker build --check`. CONTEXT defaults to the current\n"
	 "directory. Exit status 1 when there is an error; warnings alone exit 0.\n"
	 "A `# check=skip=Rule1,Rule2` (or skip=all) directive silences warnings, and\n"
	 "`# check=error=true` makes them fail the check.\n",
	 cmd_check_options},
	{"parse", cmd_parse, "print a Dockerfile's syntax tree",
	 "usage: kiln parse [--format=buildkit|json] FILE\n"
	 "\n"
	 "Parse FILE (- for stdin) and print its syntax tree on stdout.\n",
	 cmd_parse_options},
	{"run", cmd_run, "run an image in the sandbox of RUN steps (a debugging aid)",
	 "usage: kiln run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
	 "\n"
	 "Run the image's entrypoint and command (COMMAND replaces the image's CMD) in\n"
	 "the sandbox RUN steps use, over a throwaway overlay of the image's layers:\n"
	 "nothing it changes is kept, the image is never modified. The exit status is\n"
	 "the command's. A debugging aid to try what was built, not a container\n"
	 "runtime: no ports, no detaching, no restart policy, no daemon.\n",
	 cmd_run_options},
	{"images", cmd_images, "list the images in the store",
	 "usage: kiln images [OPTIONS] [REPOSITORY[:TAG]]\n"
	 "\n"
	 "List the images, newest first, as `docker images`: REPOSITORY, TAG, IMAGE ID\n"
	 "(the config digest, 12 hex digits), CREATED (\"3 minutes ago\"), SIZE (the\n"
	 "manifest and layer blobs, \"4.26MB\"). An unnamed index entry is <none> <none>.\n"
	 "REPOSITORY[:TAG] is a reference filter.\n",
	 cmd_images_options},
	{"history", cmd_history, "show the history of an image",
	 "usage: kiln history [OPTIONS] IMAGE\n"
	 "\n"
	 "Show the image's config history, newest first, as `docker history`: IMAGE (the\n"
	 "image ID on the top line, <missing> below), CREATED, CREATED BY (cut at 45\n"
	 "characters), SIZE (the layer blob; 0B for steps without a layer), COMMENT.\n",
	 cmd_history_options},
	{"inspect", cmd_inspect, "show an image's manifest and config as JSON",
	 "usage: kiln inspect [--root DIR] NAME|ID\n"
	 "\n"
	 "Print {Name, Id, Digest, Manifest, Config} of the image as JSON. NAME gets\n"
	 "':latest' when it has no tag; ID is a digest or a unique hex prefix of the\n"
	 "manifest digest or of the image ID.\n",
	 cmd_inspect_options},
	{"tag", cmd_tag, "give an image another name",
	 "usage: kiln tag [--root DIR] SOURCE TARGET\n"
	 "\n"
	 "Name the image SOURCE (a name or ID) also TARGET, replacing any image of that name.\n",
	 cmd_tag_options},
	{"rmi", cmd_rmi, "remove image names",
	 "usage: kiln rmi [-f] [--root DIR] NAME|ID...\n"
	 "\n"
	 "Remove each name (\"Untagged: NAME\"); for an ID, every name of that image and\n"
	 "its unnamed index entries (\"Deleted: ID\"). Stops at the first error. Blobs\n"
	 "stay until 'kiln prune' or 'kiln image prune'.\n",
	 cmd_rmi_options},
	{"image", cmd_image, "manage images: ls, rm, prune, history, inspect, tag, ...",
	 "usage: kiln image SUBCOMMAND [OPTIONS]\n"
	 "       kiln image prune [-a|--all] [-f|--force] [--root DIR]\n"
	 "\n"
	 "docker's image management commands:\n"
	 "  ls, list      kiln images\n"
	 "  rm            kiln rmi\n"
	 "  history, inspect, tag, build, import, save, load   the commands of that name\n"
	 "  prune [-a] [-f] [--root DIR]\n"
	 "                remove dangling images (unnamed index entries), with -a every\n"
	 "                image (kiln has no containers to keep one in use), then delete\n"
	 "                the blobs and snapshots nothing else reaches, as 'kiln prune';\n"
	 "                prints \"Deleted Images:\" and \"Total reclaimed space: SIZE\".\n"
	 "                Asks for confirmation on stdin unless -f (--force).\n"},
	{"manifest", cmd_manifest, "make an image index from stored images and push it",
	 "usage: kiln manifest create [--root DIR] LIST [IMAGE...]\n"
	 "       kiln manifest add [--root DIR] LIST IMAGE...\n"
	 "       kiln manifest inspect [--root DIR] LIST\n"
	 "       kiln manifest push [OPTIONS] LIST [DEST]\n"
	 "\n"
	 "create names a new OCI image index LIST listing each IMAGE (a name or ID in the\n"
	 "store) under the platform its config says; an IMAGE that is an index adds its\n"
	 "stored manifests. add lists more images in the index LIST; an image of a\n"
	 "platform already listed replaces it. Both print the index digest. inspect\n"
	 "prints the index. push is kiln push (the same options): each manifest by\n"
	 "digest, then the index under the tag. Images built elsewhere come in with\n"
	 "kiln pull --platform first.\n"},
	{"system", cmd_system, "store usage (df) and cleanup (prune)",
	 "usage: kiln system df [--format FORMAT] [--root DIR]\n"
	 "       kiln system prune [--cache [--keep-storage SIZE] [--filter until=D]] [--root DIR]\n"
	 "\n"
	 "df prints docker's TYPE TOTAL ACTIVE SIZE RECLAIMABLE table. Images: every\n"
	 "image, ACTIVE the named ones (a name is what keeps an image in kiln), SIZE the\n"
	 "blobs' disk usage, RECLAIMABLE what no named image reaches. Containers and Local\n"
	 "Volumes are always 0. Build Cache: the entries of cache/ and snapshots/, all\n"
	 "reclaimable with 'kiln prune --cache'. --format takes table, table TEMPLATE, json\n"
	 "or TEMPLATE with {{.Type}}, {{.TotalCount}}, {{.Active}}, {{.Size}},\n"
	 "{{.Reclaimable}}. prune is 'kiln prune'.\n"},
	{"import", cmd_import, "make an image from a root filesystem tarball",
	 "usage: kiln import [--root DIR] [--compression gzip|zstd|none] [--format oci|docker]\n"
	 "                   ROOTFS.tar[.gz|.zst]|- NAME\n"
	 "\n"
	 "Like 'docker import': one layer holding the tarball's files, named NAME.\n"
	 "Prints the manifest digest. Timestamps are clamped to $SOURCE_DATE_EPOCH when set.\n",
	 cmd_import_options},
	{"pull", cmd_pull, "copy an image into the store",
	 "usage: kiln pull [--root DIR] SOURCE [NAME]\n"
	 "\n"
	 "SOURCE is one of:\n"
	 "  oci:DIR[:REF]             an OCI image layout (REF: its ref.name annotation)\n"
	 "  oci-archive:FILE[:REF]    a tar of an OCI image layout\n"
	 "  docker-archive:FILE[:REF] a 'docker save' archive\n"
	 "  [docker://]REF            a registry reference: alpine, 127.0.0.1:5000/app:1,\n"
	 "                            quay.io/org/img@sha256:...\n"
	 "Every blob is verified. The image is named NAME, else REF when it has a tag,\n"
	 "else DIRNAME:REF. Prints the manifest digest. The registry options are for\n"
	 "registry references only.\n",
	 cmd_pull_options},
	{"save", cmd_save, "write an image to an archive",
	 "usage: kiln save [--root DIR] [--format oci-archive|docker-archive|oci-layout] -o FILE NAME\n"
	 "\n"
	 "Write the image as an oci-archive (default) or a docker-archive (for\n"
	 "'docker load' / 'podman load'). FILE is replaced atomically; '-' is stdout.\n"
	 "With oci-layout, FILE is a directory: the image is added to (or replaces its\n"
	 "name in) the OCI image layout there.\n",
	 cmd_save_options},
	{"load", cmd_load, "read images from an archive",
	 "usage: kiln load [--root DIR] -i FILE\n"
	 "\n"
	 "Load every named image of an oci-archive or docker-archive (found from the\n"
	 "contents) into the store.\n",
	 cmd_load_options},
	{"fsck", cmd_fsck, "check the store",
	 "usage: kiln fsck [--snapshots] [--root DIR]\n"
	 "\n"
	 "Verify every blob's digest and every reference (index, manifests, configs,\n"
	 "layers). Prints one line per problem; exit status 1 when there is any.\n"
	 "--snapshots also unpacks each snapshot's layer again and compares the two\n"
	 "trees (type, mode, owner, content, link target, xattrs).\n",
	 cmd_fsck_options},
	{"prune", cmd_prune, "delete what no image needs",
	 "usage: kiln prune [--cache [--keep-storage SIZE] [--filter until=DURATION]]\n"
	 "                  [--root DIR]\n"
	 "\n"
	 "Delete blobs and snapshots that no image or cache entry reaches, and tmp/.\n"
	 "With --cache, the build cache is emptied first (cached steps, RUN --mount=type=cache\n"
	 "directories), so what only it reached goes too; the next build runs every step.\n"
	 "With --keep-storage SIZE (10g, 512m) and/or --filter until=DURATION (24h, 90m),\n"
	 "the least recently used cache entries go first, until what the cache alone keeps\n"
	 "is at most SIZE, and every entry unused for longer than DURATION; then prints the\n"
	 "cache's size. KILN_CACHE_KEEP_STORAGE=SIZE applies the same budget after each build.\n"
	 "Refuses while another kiln process has the store open. Prints what it freed.\n",
	 cmd_prune_options},
	{"push", cmd_push, "send an image to a registry",
	 "usage: kiln push [OPTIONS] NAME [DESTINATION]\n"
	 "\n"
	 "Push the stored image NAME (a name or ID) to DESTINATION, a registry reference\n"
	 "such as 127.0.0.1:5000/team/app:1 or docker://quay.io/team/app (default: NAME).\n"
	 "Blobs the registry has are skipped, blobs of another repository on the same\n"
	 "registry are mounted, the rest uploaded a few at a time (large ones in chunks);\n"
	 "the manifest goes last. Prints the pushed manifest digest. Says first, on stderr,\n"
	 "\"The push refers to repository [REGISTRY/PATH]\" as docker (docker.io/user/app\n"
	 "for user/app, docker.io/library/app for app). Options come before NAME.\n",
	 cmd_push_options},
	{"login", cmd_login, "log in to a registry (stores credentials in auth.json)",
	 "usage: kiln login [-u USER] [-p PASSWORD | --password-stdin] [OPTIONS] [REGISTRY]\n"
	 "\n"
	 "Check USER's password against REGISTRY (e.g. quay.io, 127.0.0.1:5000; default\n"
	 "Docker Hub, docker.io, as docker) and store it in $REGISTRY_AUTH_FILE, else\n"
	 "$XDG_RUNTIME_DIR/containers/auth.json (the file podman and skopeo read), written\n"
	 "atomically with mode 0600. Docker Hub's entry is stored under docker's key,\n"
	 "https://index.docker.io/v1/. Options may come before or after REGISTRY.\n",
	 cmd_login_options},
	{"logout", cmd_logout, "remove stored credentials for a registry",
	 "usage: kiln logout [--authfile FILE] [REGISTRY] | --all\n"
	 "\n"
	 "Remove REGISTRY's entry (default Docker Hub, under any of its spellings) from the\n"
	 "credentials file kiln login writes, or the whole file with --all.\n",
	 cmd_logout_options},
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
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	fputs(c->usage, stdout);
	if (!c->options)
		return;
	cmd_options_help(c->options, &sb);
	printf("\nOptions:\n%s", sb.buf);
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
