/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd-layers.h"
#include "cmd/cmd-registry.h"
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
	{"completion", cmd_completion, "print shell completion for bash or zsh",
	 "usage: kiln completion bash|zsh\n"
	 "\n"
	 "Print a completion script, made from the command table and each command's help\n"
	 "text (what 'kiln help COMMAND' lists is what the shell offers). 'meson install'\n"
	 "installs both: share/bash-completion/completions/kiln and\n"
	 "share/zsh/site-functions/_kiln. Or: source <(kiln completion bash)\n"},
	{"build", cmd_build, "build an image from a Dockerfile",
	 "usage: kiln build [OPTIONS] [CONTEXT|-]\n"
	 "\n"
	 "Build the Dockerfile in CONTEXT (default: the current directory; -: a tar, maybe\n"
	 "compressed, or a Dockerfile with an empty context, on stdin) and store the\n"
	 "image under each -t name. RUN steps run rootless, in a sandbox of namespaces over\n"
	 "overlayfs. Prints the image ID (the config digest) on stdout.\n"
	 "\n"
	 "Options:\n"
	 "  -t, --tag NAME[:TAG]       name the image (repeatable; ':latest' when no tag)\n"
	 "  -f, --file FILE            the Dockerfile (default CONTEXT/Dockerfile; - for stdin)\n"
	 "  --build-arg K[=V]          set a build argument (K alone: from the environment)\n"
	 "  --label K=V                add a label to the image\n"
	 "  --annotation [manifest:]K=V  add an annotation to the manifest (repeatable; not\n"
	 "                             for docker-format images, which have none)\n"
	 "  --target STAGE             build up to this stage\n"
	 "  --no-cache                 do not use the step cache\n"
	 "  --no-cache-filter STAGE    do not use the cache for this stage (repeatable)\n"
	 "  --jobs N                   stages built at once (default: the number of CPUs)\n"
	 "  --check, --call=check      check the Dockerfile as 'kiln check' does, build nothing\n"
	 "  --network default|host|none   RUN steps' network (default: a private namespace\n"
	 "                             through pasta or slirp4netns)\n"
	 "  --allow ENTITLEMENT        let RUN --security=insecure (security.insecure) or\n"
	 "                             RUN --network=host (network.host) run\n"
	 "  --secret id=ID,src=PATH|env=VAR   a secret for RUN --mount=type=secret\n"
	 "  --ssh default[=SOCKET]     an SSH agent for RUN --mount=type=ssh\n"
	 "  --progress auto|tty|plain|json   how to show progress (default auto)\n"
	 "  -q, --quiet                print only the image ID\n"
	 "  --iidfile FILE             write the image ID (sha256:..., no newline) to FILE\n"
	 "  --metadata-file FILE       write buildx's JSON: containerimage.digest (the\n"
	 "                             manifest), containerimage.config.digest (the image\n"
	 "                             ID), containerimage.descriptor, image.name\n"
	 "  -o, --output type=TYPE,dest=DEST   also write the image out:\n"
	 "                             local: its final filesystem into the directory DEST\n"
	 "                             (missing or empty), files the caller's, modes kept;\n"
	 "                             tar: the same as a tarball (image owners; - stdout);\n"
	 "                             oci, docker: an oci-archive or docker-archive;\n"
	 "                             image: the store only (the default). -o DIR is\n"
	 "                             type=local, -o - a tar on stdout\n"
	 "  --compression gzip|zstd|none     layer compression (default gzip)\n"
	 "  --source-date-epoch SECONDS      clamp times (default $SOURCE_DATE_EPOCH)\n"
	 "  --storage overlay|copy|auto      how steps see their parent's files: overlayfs,\n"
	 "                             or a plain copy diffed by walking it (slower, the\n"
	 "                             same layers); default $KILN_STORAGE, else auto:\n"
	 "                             overlay where it can be mounted\n"
	 "  --isolation auto|sandbox|chroot  how RUN steps are isolated: the sandbox of\n"
	 "                             namespaces, or chroot(2) over the copy storage\n"
	 "                             where no namespace can be made (root in a default\n"
	 "                             container); default auto, said in the progress\n"
	 "  --pull=missing|always|never      pull FROM, COPY --from and RUN --mount=from\n"
	 "                             images that are not stages: when the store lacks\n"
	 "                             them (default), every build (--pull alone), or never\n"
	 "  --push                     push every -t name to its registry after the build;\n"
	 "                             prints NAME@DIGEST per name after the image ID\n"
	 "  --cache-to type=local,dest=DIR|type=registry,ref=REF[,mode=min|max]\n"
	 "                             [,ignore-error=true][,mounts=true]: export the step\n"
	 "                             cache (mounts: and RUN cache mounts), merged\n"
	 "                             with what is there (repeatable); type=inline: into\n"
	 "                             the image's manifest, for --cache-from IMAGE\n"
	 "  --cache-from type=local,src=DIR|type=registry,ref=REF|REF\n"
	 "                             look steps that miss the store up there: a cache or\n"
	 "                             an image with an inline cache (repeatable)\n"
	 "  --tls-verify=false, --cert-file FILE, --authfile FILE, --creds USER[:PASS]\n"
	 "                             registry options for the pulls and the push, as\n"
	 "                             for kiln pull\n"
	 "  --root DIR                 the store (default $KILN_ROOT, else\n"
	 "                             $XDG_DATA_HOME/kiln, or /var/lib/kiln for root)\n"},
	{"info", cmd_info, "show what kiln can do here: store, storage, isolation",
	 "usage: kiln info [--format text|json] [--root DIR]\n"
	 "\n"
	 "Print the store, the storage and the RUN isolation a build would get here and\n"
	 "why, the user namespace, the subordinate ids of the caller, seccomp, overlayfs\n"
	 "and the user-mode network helpers (pasta, slirp4netns). --format json prints\n"
	 "one object with the same keys.\n"},
	{"check", cmd_check, "report every error and warning in a Dockerfile",
	 "usage: kiln check [-f DOCKERFILE] [CONTEXT]\n"
	 "\n"
	 "Parse DOCKERFILE (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile; - for\n"
	 "stdin) and its ignore file (DOCKERFILE.dockerignore, else CONTEXT/.dockerignore)\n"
	 "without building, and print every error and warning as FILE:LINE:COL with the\n"
	 "source line, like `docker build --check`. CONTEXT defaults to the current\n"
	 "directory. Exit status 1 when there is an error; warnings alone exit 0.\n"
	 "A `# check=skip=Rule1,Rule2` (or skip=all) directive silences warnings, and\n"
	 "`# check=error=true` makes them fail the check.\n"
	 "\n"
	 "Options:\n"
	 "  -f, --file DOCKERFILE  the Dockerfile to check\n"},
	{"parse", cmd_parse, "print a Dockerfile's syntax tree",
	 "usage: kiln parse [--format=buildkit|json] FILE\n"
	 "\n"
	 "Parse FILE (- for stdin) and print its syntax tree on stdout.\n"
	 "\n"
	 "Options:\n"
	 "  --format=json      (default) the parsed and checked instructions as JSON, one\n"
	 "                     object per instruction (see kiln(1))\n"
	 "  --format=buildkit  the syntax layer only, printed exactly like the `result`\n"
	 "                     files of BuildKit's parser tests\n"},
	{"images", cmd_images, "list the images in the store",
	 "usage: kiln images [OPTIONS] [REPOSITORY[:TAG]]\n"
	 "\n"
	 "List the images, newest first, as `docker images`: REPOSITORY, TAG, IMAGE ID\n"
	 "(the config digest, 12 hex digits), CREATED (\"3 minutes ago\"), SIZE (the\n"
	 "manifest and layer blobs, \"4.26MB\"). An unnamed index entry is <none> <none>.\n"
	 "REPOSITORY[:TAG] is a reference filter.\n"
	 "\n"
	 "  -a, --all             every image (kiln keeps no intermediate images: the same list)\n"
	 "  -q, --quiet           only the image IDs, one per line\n"
	 "  --no-trunc            full image IDs (sha256:...)\n"
	 "  --digests             a DIGEST column (the manifest digest)\n"
	 "  -f, --filter K=V      keep only matching images (repeatable; different keys must\n"
	 "                        all match, several reference= any):\n"
	 "                          reference=PATTERN  the name, with or without :TAG, matches\n"
	 "                                             PATTERN (*, ?, [...]; * stops at /)\n"
	 "                          dangling=true|false  unnamed entries only, or named only\n"
	 "                          before=IMAGE, since=IMAGE  created before or after IMAGE\n"
	 "                          label=KEY, label=KEY=VALUE  has the label (with the value)\n"
	 "  --format FORMAT       table (default), table TEMPLATE, json (one object per line),\n"
	 "                        or TEMPLATE with {{.Repository}}, {{.Tag}}, {{.ID}},\n"
	 "                        {{.Digest}}, {{.CreatedSince}}, {{.CreatedAt}}, {{.Size}},\n"
	 "                        {{json .}}, {{json .Field}}; \\t is a tab\n"
	 "  --root DIR            the store (default $KILN_ROOT, else $XDG_DATA_HOME/kiln,\n"
	 "                        ~/.local/share/kiln, or /var/lib/kiln for root)\n"},
	{"history", cmd_history, "show the history of an image",
	 "usage: kiln history [OPTIONS] IMAGE\n"
	 "\n"
	 "Show the image's config history, newest first, as `docker history`: IMAGE (the\n"
	 "image ID on the top line, <missing> below), CREATED, CREATED BY (cut at 45\n"
	 "characters), SIZE (the layer blob; 0B for steps without a layer), COMMENT.\n"
	 "\n"
	 "  -q, --quiet           only the IMAGE column\n"
	 "  --no-trunc            full image ID and CREATED BY\n"
	 "  --format FORMAT       table, table TEMPLATE, json or TEMPLATE with {{.ID}},\n"
	 "                        {{.CreatedSince}}, {{.CreatedAt}}, {{.CreatedBy}},\n"
	 "                        {{.Size}}, {{.Comment}}\n"
	 "  --root DIR            the store\n"},
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
	 "usage: kiln rmi [-f] [--root DIR] NAME|ID...\n"
	 "\n"
	 "Remove each name (\"Untagged: NAME\"); for an ID, every name of that image and\n"
	 "its unnamed index entries (\"Deleted: ID\"). Stops at the first error. Blobs\n"
	 "stay until 'kiln prune' or 'kiln image prune'.\n"
	 "\n"
	 "  -f, --force   remove an ID whose image has several names (without it, refused\n"
	 "                as docker: \"image is referenced in multiple repositories\")\n"},
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
	 "Prints the manifest digest. Timestamps are clamped to $SOURCE_DATE_EPOCH when set.\n"},
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
	 "else DIRNAME:REF. Prints the manifest digest.\n"
	 "\n"
	 "Registry options (see 'kiln help push' for the others):\n"
	 "  --platform OS/ARCH[/VARIANT]  the image to take from an index (default linux/amd64)\n"
	 "  --tls-verify=false, --cert-file FILE, --authfile FILE, --creds USER[:PASS],\n"
	 "  -j, --jobs N, --quiet\n"},
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
	 "usage: kiln fsck [--snapshots] [--root DIR]\n"
	 "\n"
	 "Verify every blob's digest and every reference (index, manifests, configs,\n"
	 "layers). Prints one line per problem; exit status 1 when there is any.\n"
	 "--snapshots also unpacks each snapshot's layer again and compares the two\n"
	 "trees (type, mode, owner, content, link target, xattrs).\n"},
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
	 "Refuses while another kiln process has the store open. Prints what it freed.\n"},
	{"push", cmd_push, "send an image to a registry",
	 "usage: kiln push [OPTIONS] NAME [DESTINATION]\n"
	 "\n"
	 "Push the stored image NAME (a name or ID) to DESTINATION, a registry reference\n"
	 "such as 127.0.0.1:5000/team/app:1 or docker://quay.io/team/app (default: NAME).\n"
	 "Blobs the registry has are skipped, blobs of another repository on the same\n"
	 "registry are mounted, the rest uploaded a few at a time (large ones in chunks);\n"
	 "the manifest goes last. Prints the pushed manifest digest. Says first, on stderr,\n"
	 "\"The push refers to repository [REGISTRY/PATH]\" as docker (docker.io/user/app\n"
	 "for user/app, docker.io/library/app for app).\n"
	 "\n"
	 "  --tls-verify=false    do not verify TLS (and allow plain HTTP)\n"
	 "  --cert-file FILE      trust the CA certificates in FILE (PEM)\n"
	 "  --authfile FILE       credentials file (default: see 'kiln help login')\n"
	 "  --creds USER[:PASS]   credentials for this push\n"
	 "  -j, --jobs N          blobs sent at once, 1 to 8 (default 3)\n"
	 "  --chunk-size SIZE     blobs larger than SIZE go up in PATCH chunks of SIZE (default 64m)\n"
	 "  -q, --quiet           no progress lines on stderr\n"
	 "  --root DIR            the store\n"},
	{"login", cmd_login, "log in to a registry (stores credentials in auth.json)",
	 "usage: kiln login [-u USER] [-p PASSWORD | --password-stdin] [OPTIONS] [REGISTRY]\n"
	 "\n"
	 "Check USER's password against REGISTRY (e.g. quay.io, 127.0.0.1:5000; default\n"
	 "Docker Hub, docker.io, as docker) and store it in $REGISTRY_AUTH_FILE, else\n"
	 "$XDG_RUNTIME_DIR/containers/auth.json (the file podman and skopeo read), written\n"
	 "atomically with mode 0600. Docker Hub's entry is stored under docker's key,\n"
	 "https://index.docker.io/v1/. Options may come before or after REGISTRY.\n"
	 "\n"
	 "  -u, --username USER   the user name (asked for on a terminal when missing)\n"
	 "  -p, --password PASS   the password (visible to other users: prefer --password-stdin);\n"
	 "                        without -p and --password-stdin it is asked for on the\n"
	 "                        terminal, without echo\n"
	 "  --password-stdin      read the password from standard input\n"
	 "  --authfile FILE       the credentials file to write\n"
	 "  --tls-verify=false    do not verify the registry's TLS certificate\n"
	 "  --cert-file FILE      trust the CA certificates in FILE (PEM)\n"},
	{"logout", cmd_logout, "remove stored credentials for a registry",
	 "usage: kiln logout [--authfile FILE] [REGISTRY] | --all\n"
	 "\n"
	 "Remove REGISTRY's entry (default Docker Hub, under any of its spellings) from the\n"
	 "credentials file kiln login writes, or the whole file with --all.\n"},
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
