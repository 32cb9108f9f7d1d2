/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN for another architecture runs through the kernel's binfmt_misc: a
 * handler (qemu-user-static's) matches the ELF header of the stage's
 * binaries and the kernel starts its interpreter. Only a handler registered
 * with the F flag works in the sandbox, whose root has no /usr/libexec of the
 * host: the kernel opened that interpreter when it was registered. Without
 * one the step fails before it starts, saying what to install.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define BINFMT_DIR "/proc/sys/fs/binfmt_misc"

/* GOARCH -> the ELF class and e_machine of its binaries, and qemu's name for it. */
static const struct {
	const char *arch, *qemu;
	unsigned class, machine;
} elf_arches[] = {
	{"amd64", "x86_64", 2, 62},	{"386", "i386", 1, 3},
	{"arm64", "aarch64", 2, 183},	{"arm", "arm", 1, 40},
	{"ppc64le", "ppc64le", 2, 21},	{"s390x", "s390x", 2, 22},
	{"riscv64", "riscv64", 2, 243}, {"mips64le", "mips64el", 2, 8},
};

/* Can this machine run @arch's binaries itself? */
static bool native(const char *arch)
{
	const char *host = image_host_arch();

	return streq(arch, host) || (streq(host, "amd64") && streq(arch, "386"));
}

static unsigned hex_byte(const char *s)
{
	char b[3] = {s[0], s[1], 0};

	return (unsigned)strtoul(b, NULL, 16);
}

/* Does the handler text (the file's content) run @class/@machine ELF binaries, with F? */
static bool handler_runs(const char *text, unsigned class, unsigned machine, bool *ret_no_f)
{
	const char *magic = strstr(text, "\nmagic "), *flags = strstr(text, "\nflags: ");
	const char *offset = strstr(text, "\noffset ");

	if (!startswith(text, "enabled\n") || !magic ||
	    (offset && !startswith(offset, "\noffset 0\n")))
		return false;
	magic += strlen("\nmagic ");
	if (strspn(magic, "0123456789abcdef") < 40 || !startswith(magic, "7f454c46"))
		return false;
	if (hex_byte(magic + 8) != class ||
	    hex_byte(magic + 36) + 256 * hex_byte(magic + 38) != machine)
		return false;
	if (flags) {
		flags += strlen("\nflags: ");
		if (memchr(flags, 'F', strcspn(flags, "\n")))
			return true;
	}
	*ret_no_f = true;
	return false;
}

/* 1: a handler with F, 0: none (*ret_no_f: one without F), -errno: no binfmt_misc. */
static int find_handler(unsigned class, unsigned machine, bool *ret_no_f)
{
	DIR *d = opendir(BINFMT_DIR);
	struct dirent *e;
	int found = 0;

	if (!d)
		return -errno;
	if (faccessat(dirfd(d), "status", F_OK, 0) < 0) {
		closedir(d);
		return -ENOENT; /* the directory, without binfmt_misc mounted on it */
	}
	while (!found && (e = readdir(d))) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

		if (e->d_name[0] == '.' || streq(e->d_name, "register") ||
		    streq(e->d_name, "status"))
			continue;
		if (strbuf_read_file(&sb, dirfd(d), e->d_name, NULL) >= 0 &&
		    handler_runs(sb.buf, class, machine, ret_no_f))
			found = 1;
	}
	closedir(d);
	return found;
}

int emulation_check(const struct platform *p, struct kiln_error **err)
{
	char buf[PLATFORM_STR_SIZE];
	bool no_f = false;
	int r;

	if (native(p->arch))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(elf_arches); i++) {
		if (!streq(elf_arches[i].arch, p->arch))
			continue;
		r = find_handler(elf_arches[i].class, elf_arches[i].machine, &no_f);
		if (r > 0)
			return 0;
		platform_format(p, buf);
		if (r < 0)
			return err_new(
				err, KILN_ERR_INPUT, ENOEXEC,
				"RUN for %s needs emulation and binfmt_misc is not mounted here (as root: mount -t binfmt_misc binfmt_misc %s; then apt-get install qemu-user-static binfmt-support)",
				buf, BINFMT_DIR);
		if (no_f)
			return err_new(
				err, KILN_ERR_INPUT, ENOEXEC,
				"RUN for %s needs emulation and the binfmt_misc handler for %s binaries was registered without the F flag, so the sandbox cannot start its interpreter (use Debian's qemu-user-static, which registers with F)",
				buf, elf_arches[i].qemu);
		return err_new(
			err, KILN_ERR_INPUT, ENOEXEC,
			"RUN for %s needs emulation and no binfmt_misc handler for %s (%s) binaries is registered (apt-get install qemu-user-static binfmt-support)",
			buf, p->arch, elf_arches[i].qemu);
	}
	return err_new(err, KILN_ERR_INPUT, ENOEXEC,
		       "RUN for %s: kiln cannot emulate the architecture '%s' on this %s machine",
		       platform_format(p, buf), p->arch, image_host_arch());
}
