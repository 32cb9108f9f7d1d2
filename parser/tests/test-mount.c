/* SPDX-License-Identifier: Apache-2.0 */
/* RUN --mount's grammar (parser/mount.c), as kiln check and kiln build both run it. */
#include "tap.h"
#include "test-util.h"
#include "util/xmalloc.h"

/* The message of parsing @spec, or NULL when it parses. */
static char *mount_err(const char *spec, unsigned flags)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	struct mount_spec m;

	if (mount_spec_parse(spec, flags, &m, &err) == 0) {
		mount_spec_release(&m);
		return NULL;
	}
	return xstrdup(err->msg);
}

#define ASSERT_MOUNT_ERR(spec, flags, want)                         \
	do {                                                        \
		_cleanup_free_ char *got_ = mount_err(spec, flags); \
		ASSERT_STREQ(got_, want);                           \
	} while (0)

TEST(fields_and_defaults)
{
	struct mount_spec m;

	ASSERT_EQ(mount_spec_parse("type=cache,target=/c,sharing=locked,mode=0700,uid=5,gid=6", 0,
				   &m, NULL),
		  0);
	ASSERT_EQ(m.type, MOUNT_CACHE);
	ASSERT_STREQ(m.target, "/c");
	ASSERT_STREQ(m.id, "/c"); /* a cache's id defaults to its target */
	ASSERT_STREQ(m.sharing, "locked");
	ASSERT_EQ(m.mode, 0700);
	ASSERT_TRUE(m.mode_set);
	ASSERT_EQ(m.uid, 5);
	ASSERT_EQ(m.gid, 6);
	ASSERT_NULL(m.buildah_key);
	mount_spec_release(&m);

	/* no type: bind, read-only; dst= and src= are aliases */
	ASSERT_EQ(mount_spec_parse("src=sub,dst=/m", 0, &m, NULL), 0);
	ASSERT_EQ(m.type, MOUNT_BIND);
	ASSERT_STREQ(m.source, "sub");
	ASSERT_STREQ(m.target, "/m");
	ASSERT_FALSE(m.rw);
	ASSERT_EQ(m.mode, 0755);
	ASSERT_FALSE(m.mode_set);
	mount_spec_release(&m);

	/* bare booleans, =false, and the last of ro/rw wins */
	ASSERT_EQ(mount_spec_parse("target=/m,rw,ro=false", 0, &m, NULL), 0);
	ASSERT_TRUE(m.rw);
	mount_spec_release(&m);
	ASSERT_EQ(mount_spec_parse("target=/m,rw=1,readonly", 0, &m, NULL), 0);
	ASSERT_FALSE(m.rw);
	mount_spec_release(&m);

	/* a secret's target and id default from each other */
	ASSERT_EQ(mount_spec_parse("type=secret,id=tok,required", 0, &m, NULL), 0);
	ASSERT_STREQ(m.target, "/run/secrets/tok");
	ASSERT_TRUE(m.required);
	mount_spec_release(&m);
	ASSERT_EQ(mount_spec_parse("type=secret,target=/etc/key", 0, &m, NULL), 0);
	ASSERT_STREQ(m.id, "key");
	mount_spec_release(&m);
	ASSERT_EQ(mount_spec_parse("type=secret,id=tok,env=TOKEN", 0, &m, NULL), 0);
	ASSERT_NULL(m.target);
	ASSERT_STREQ(m.env, "TOKEN");
	mount_spec_release(&m);

	/* ssh: BuildKit's socket path and id */
	ASSERT_EQ(mount_spec_parse("type=ssh", 0, &m, NULL), 0);
	ASSERT_STREQ(m.target, "/run/buildkit/ssh_agent.0");
	ASSERT_STREQ(m.id, "default");
	mount_spec_release(&m);

	ASSERT_EQ(mount_spec_parse("type=tmpfs,target=/t,size=1m", 0, &m, NULL), 0);
	ASSERT_EQ(m.size, 1024 * 1024);
	mount_spec_release(&m);
}

TEST(bad_mounts)
{
	ASSERT_MOUNT_ERR("type=volume,target=/v", 0,
			 "--mount: unsupported mount type 'volume' (expected bind, cache, tmpfs, "
			 "secret or ssh)");
	ASSERT_MOUNT_ERR("type=cache,target=/x,bogus=1", 0, "--mount: unexpected key 'bogus'");
	ASSERT_MOUNT_ERR("type=tmpfs,target=/t,from=img", 0,
			 "--mount: key 'from' is not valid for type=tmpfs");
	ASSERT_MOUNT_ERR("type=cache,target", 0,
			 "--mount: key 'target' needs a value (target=VALUE)");
	ASSERT_MOUNT_ERR("type=cache,target=/c,sharing=maybe", 0,
			 "--mount: unsupported sharing value 'maybe' (expected shared, private or "
			 "locked)");
	ASSERT_MOUNT_ERR("type=cache,target=/c,mode=999", 0,
			 "--mount: invalid value '999' for key 'mode'");
	ASSERT_MOUNT_ERR("type=cache,target=/c,uid=-1", 0,
			 "--mount: invalid value '-1' for key 'uid'");
	ASSERT_MOUNT_ERR("type=tmpfs,target=/t,size=lots", 0,
			 "--mount: invalid value 'lots' for key 'size'");
	ASSERT_MOUNT_ERR("target=/m,rw=yes", 0, "--mount: invalid value 'yes' for key 'rw'");
	ASSERT_MOUNT_ERR("type=cache", 0, "--mount: a target is required (target=PATH)");
	/* keys are case-sensitive, as buildah's z and Z differ */
	ASSERT_MOUNT_ERR("Target=/m", 0, "--mount: unexpected key 'Target'");
}

TEST(unexpanded_values_wait_for_expansion)
{
	/* kiln check sees the value as written: '$' values are judged after expansion */
	ASSERT_NULL(
		mount_err("type=cache,target=$DIR,mode=$MODE,uid=${UID}", MOUNT_SPEC_UNEXPANDED));
	ASSERT_MOUNT_ERR("type=cache,target=$DIR,mode=$MODE", 0,
			 "--mount: invalid value '$MODE' for key 'mode'");
	/* ...but keys and literal values are checked all the same */
	ASSERT_MOUNT_ERR("type=cache,target=$DIR,mode=999", MOUNT_SPEC_UNEXPANDED,
			 "--mount: invalid value '999' for key 'mode'");
	ASSERT_MOUNT_ERR("type=cache,$DIR", MOUNT_SPEC_UNEXPANDED,
			 "--mount: unexpected key '$DIR'");
	/* as BuildKit's parser, check takes a bind without a target; build does not */
	ASSERT_NULL(mount_err("from=binaries", MOUNT_SPEC_UNEXPANDED));
	ASSERT_MOUNT_ERR("from=binaries", 0, "--mount: a target is required (target=PATH)");
	/* BuildKit's from= rule: a '$' anywhere but last */
	ASSERT_MOUNT_ERR("from=$W,target=/m", MOUNT_SPEC_UNEXPANDED,
			 "--mount: 'from' doesn't support variable expansion, define alias stage "
			 "instead");
	ASSERT_NULL(mount_err("from=stage$,target=/m", MOUNT_SPEC_UNEXPANDED));
}

TEST(buildah_extensions_parse_and_are_named)
{
	struct mount_spec m;

	ASSERT_EQ(mount_spec_parse("type=tmpfs,target=/etc/ssl,tmpcopyup", 0, &m, NULL), 0);
	ASSERT_STREQ(m.buildah_key, "tmpcopyup");
	mount_spec_release(&m);
	ASSERT_EQ(mount_spec_parse("type=bind,source=.,target=/t,z,rw", 0, &m, NULL), 0);
	ASSERT_STREQ(m.buildah_key, "z");
	ASSERT_TRUE(m.rw);
	mount_spec_release(&m);
	ASSERT_MOUNT_ERR("type=cache,target=/c,tmpcopyup", 0,
			 "--mount: key 'tmpcopyup' is not valid for type=cache");
}

TEST(release_is_idempotent)
{
	struct mount_spec m = {0};

	mount_spec_release(&m);
	mount_spec_release(&m);
	ASSERT_NULL(m.target);
}

TAP_MAIN(TAP_ENTRY(fields_and_defaults), TAP_ENTRY(bad_mounts),
	 TAP_ENTRY(unexpanded_values_wait_for_expansion),
	 TAP_ENTRY(buildah_extensions_parse_and_are_named), TAP_ENTRY(release_is_idempotent))
