// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/labels.h"

#define PROCFS "tests/fixtures/cgroup"
#define ID "3f4e2d1c0b9a8f7e6d5c4b3a29180706f5e4d3c2b1a09f8e7d6c5b4a39281706"
#define POD "6b1f2c3d-1234-4abc-9def-0123456789ab"

struct want {
	int pid;
	const char *exe, *service, *container_id, *pod_uid, *systemd_unit;
};

static void check(struct label_providers *lp, const struct want *w)
{
	const struct service_info *si;
	int n = 0;

	print_message("pid %d\n", w->pid);
	assert_int_equal(label_providers__lookup(lp, w->pid, 1, w->exe, &si), 0);
	assert_string_equal(si->service, w->service);
#define LABEL(name)                                                                                \
	do {                                                                                       \
		const char *v = service_info__get(si, #name);                                      \
		if (w->name) {                                                                     \
			assert_non_null(v);                                                        \
			assert_string_equal(v, w->name);                                           \
			n++;                                                                       \
		} else {                                                                           \
			assert_null(v);                                                            \
		}                                                                                  \
	} while (0)
	LABEL(container_id);
	LABEL(pod_uid);
	LABEL(systemd_unit);
	assert_int_equal(si->nlabels, n);
}

static void test_shapes(void **state)
{
	/* clang-format off */
	static const struct want wants[] = {
		/* Containers: named after their executable, the id as a label. */
		{ 100, "nginx", "nginx", ID },				/* docker, systemd driver */
		{ 101, "/usr/bin/redis-server", "redis-server", ID },	/* docker, cgroupfs */
		{ 102, "app", "app", ID },				/* podman, its /container leaf */
		{ 103, "conmon", "conmon" },				/* podman's monitor: no container */
		{ 104, "app", "app", ID },				/* rootless podman, not user@1000 */
		{ 105, "api", "api", ID, POD },				/* containerd, systemd driver */
		{ 106, "api", "api", ID, POD },				/* CRI-O */
		{ 107, "conmon", "conmon", NULL, POD },			/* CRI-O's monitor */
		{ 108, "api", "api", ID, POD },				/* kubepods, cgroupfs driver */
		{ 109, "api", "api", ID, POD },				/* guaranteed QoS: no class */
		{ 123, "api", "api", ID, POD },				/* CRI-O, cgroupfs driver */
		{ 124, "api", "api", ID, POD },				/* containerd, cgroup v1 (name=systemd) */
		{ 125, "app", "app", ID },				/* rootless Docker, below user@1000 */
		{ 126, "app", "app", ID },				/* a Podman pod's slice: not Kubernetes' */
		{ 120, "inner", "inner", "00000000000000000000000000000000"
					 "00000000000000000000000000000001" }, /* nested: the innermost */
		{ 121, "x", "x" },					/* not 64 hex */
		/* systemd units. */
		{ 110, "nginx", "nginx", NULL, NULL, "nginx.service" },
		{ 111, "python3", "foo", NULL, NULL, "foo.service" },	/* a user's service */
		{ 118, "dockerd", "docker", NULL, NULL, "docker.service" },
		{ 119, "systemd", "user@1000", NULL, NULL, "user@1000.service" },
		{ 112, "systemd", "systemd" },				/* init.scope */
		{ 113, "systemd", "systemd" },				/* a user's manager */
		{ 122, "systemd", "systemd" },				/* a container manager's init */
		/* The executable. */
		{ 114, "bash", "bash" },				/* "/" */
		{ 115, "bash", "bash" },				/* a login session */
		{ 116, "redis", "redis", ID },				/* hybrid: name=systemd's path */
		{ 117, "sh", "sh" },					/* hybrid, nothing but "/" */
		{ 999, "gone", "gone" },				/* no cgroup file */
		{ 999, "", "unknown" },
	};
	/* clang-format on */
	struct label_providers *lp = label_providers__new(PROCFS, 0);

	assert_non_null(lp);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		label_providers__forget(lp, wants[i].pid);
		check(lp, &wants[i]);
	}
	label_providers__free(lp);
}

static void test_cgroup_container(void **state)
{
	struct container_ref c;

	assert_true(cgroup_container("/system.slice/docker-" ID ".scope", &c));
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.id, ID);
	assert_true(cgroup_container("/machine.slice/libpod-" ID ".scope/container", &c));
	assert_string_equal(c.runtime, "podman");
	assert_true(cgroup_container("/libpod_parent/libpod-" ID, &c));
	assert_string_equal(c.runtime, "podman");
	assert_true(cgroup_container("/a/cri-containerd-" ID ".scope", &c));
	assert_string_equal(c.runtime, "containerd");
	assert_true(cgroup_container("/a/crio-" ID ".scope", &c));
	assert_string_equal(c.runtime, "crio");
	assert_true(cgroup_container("/kubepods/burstable/pod" POD "/crio-" ID, &c));
	assert_string_equal(c.runtime, "crio");
	assert_string_equal(c.pod_uid, POD);
	assert_true(cgroup_container("/machine.slice/machine-libpod_pod_" ID ".slice/libpod-" ID
				     ".scope/container",
				     &c));
	assert_string_equal(c.runtime, "podman");
	assert_string_equal(c.pod_uid, "");
	assert_true(cgroup_container("/kubepods/besteffort/pod" POD "/" ID, &c));
	assert_string_equal(c.runtime, "");
	assert_string_equal(c.pod_uid, POD);
	assert_false(cgroup_container("/kubepods/besteffort/pod" POD, &c));
	assert_string_equal(c.pod_uid, POD);
	/* "pod..." outside kubepods is nobody's pod. */
	assert_false(cgroup_container("/system.slice/podman.service", &c));
	assert_string_equal(c.pod_uid, "");
	assert_false(cgroup_container("/docker-" ID "0.scope", &c));
	assert_false(
		cgroup_container("/docker-3F4E2D1C0B9A8F7E6D5C4B3A29180706F5E4D3C2B1A09F8E7D6C5B4A"
				 "39281706.scope",
				 &c));
	assert_false(cgroup_container("", &c));
}

/* A temporary /proc with one cgroup file per pid we write. */
struct tmpproc {
	char dir[64];
};

static void set_cgroup(struct tmpproc *t, int pid, const char *path)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%d", t->dir, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%d/cgroup", t->dir, pid);
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "0::%s\n", path);
	fclose(f);
}

static int setup_tmp(void **state)
{
	struct tmpproc *t = calloc(1, sizeof(*t));

	strcpy(t->dir, "/tmp/test_agent_labels.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	*state = t;
	return 0;
}

static int teardown_tmp(void **state)
{
	struct tmpproc *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd))
		return -1;
	free(t);
	return 0;
}

static const char *service(struct label_providers *lp, int pid, uint64_t start)
{
	const struct service_info *si;

	assert_int_equal(label_providers__lookup(lp, pid, start, "exe", &si), 0);
	return si->service;
}

static void test_pid_reuse(void **state)
{
	struct tmpproc *t = *state;
	struct label_providers *lp = label_providers__new(t->dir, 0);
	struct label_stats st;

	assert_non_null(lp);
	set_cgroup(t, 5, "/system.slice/a.service");
	assert_string_equal(service(lp, 5, 100), "a");
	/* The same process: its answer is cached, the file not read again. */
	set_cgroup(t, 5, "/system.slice/b.service");
	assert_string_equal(service(lp, 5, 100), "a");
	/* Another process with the same pid. */
	assert_string_equal(service(lp, 5, 200), "b");
	label_providers__stats(lp, &st);
	assert_int_equal(st.lookups, 3);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.reused, 1);
	assert_int_equal(st.cached, 1);

	set_cgroup(t, 5, "/system.slice/c.service");
	label_providers__forget(lp, 5);
	label_providers__stats(lp, &st);
	assert_int_equal(st.cached, 0);
	assert_string_equal(service(lp, 5, 200), "c");
	label_providers__free(lp);
}

/* Processes of one service share one answer; the last to go frees it. */
static void test_shared_answers(void **state)
{
	struct tmpproc *t = *state;
	struct label_providers *lp = label_providers__new(t->dir, 0);
	const struct service_info *a, *b, *c;

	assert_non_null(lp);
	set_cgroup(t, 7, "/system.slice/web.service");
	set_cgroup(t, 8, "/system.slice/web.service");
	set_cgroup(t, 9, "/system.slice/db.service");
	assert_int_equal(label_providers__lookup(lp, 7, 1, "exe", &a), 0);
	assert_int_equal(label_providers__lookup(lp, 8, 1, "exe", &b), 0);
	assert_int_equal(label_providers__lookup(lp, 9, 1, "exe", &c), 0);
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	assert_string_equal(b->service, "web");
	assert_string_equal(service_info__get(b, "systemd_unit"), "web.service");
	assert_string_equal(c->service, "db");
	/* One of the two gone: the other keeps the answer. */
	label_providers__forget(lp, 7);
	assert_int_equal(label_providers__lookup(lp, 8, 1, "exe", &b), 0);
	assert_string_equal(service_info__get(b, "systemd_unit"), "web.service");
	label_providers__forget(lp, 8);
	label_providers__forget(lp, 9);
	label_providers__free(lp);
}

static void test_cache_bound(void **state)
{
	struct tmpproc *t = *state;
	struct label_providers *lp = label_providers__new(t->dir, 2);
	struct label_stats st;

	assert_non_null(lp);
	for (int pid = 1; pid <= 3; pid++)
		set_cgroup(t, pid, "/system.slice/old.service");
	service(lp, 1, 1);
	service(lp, 2, 1);
	service(lp, 1, 1); /* 2 is now the least recently used */
	service(lp, 3, 1);
	label_providers__stats(lp, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.cached, 2);

	for (int pid = 1; pid <= 3; pid++)
		set_cgroup(t, pid, "/system.slice/new.service");
	assert_string_equal(service(lp, 1, 1), "old");
	assert_string_equal(service(lp, 3, 1), "old");
	assert_string_equal(service(lp, 2, 1), "new"); /* it was evicted */
	label_providers__stats(lp, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.cached, 2);

	/* Forgotten entries (1 went for 2) are reused before anything is evicted. */
	label_providers__forget(lp, 2);
	label_providers__forget(lp, 3);
	service(lp, 4, 1);
	service(lp, 5, 1);
	label_providers__stats(lp, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.cached, 2);
	label_providers__free(lp);
}

static int name_calls;

static int fake_name(void *ctx, const char *proc_root, int pid, const struct container_ref *c,
		     char *name, size_t size)
{
	name_calls++;
	if (!strcmp(c->id, "0000000000000000000000000000000000000000000000000000000000000002"))
		return -EAGAIN;
	if (strcmp(c->id, ID))
		return -ENOENT;
	snprintf(name, size, "%s", (const char *)ctx);
	return 0;
}

static int name_all(void *priv, const struct label_query *q, struct service_info *si)
{
	service_info__add(si, "first", "yes");
	service_info__propose(si, "first");
	return 0;
}

static void test_name_hook_and_order(void **state)
{
	struct tmpproc *t = *state;
	struct label_provider p[3];
	struct label_providers *lp;
	const struct service_info *si;

	assert_int_equal(label_provider_container(fake_name, "shop", &p[0]), 0);
	label_provider_systemd(&p[1]);
	label_provider_exe(&p[2]);
	lp = label_providers__new_with(t->dir, 0, p, 3);
	assert_non_null(lp);
	set_cgroup(t, 1, "/system.slice/docker-" ID ".scope");
	set_cgroup(t, 2, "/system.slice/docker-" ID ".scope");
	set_cgroup(t, 3,
		   "/system.slice/"
		   "docker-0000000000000000000000000000000000000000000000000000000000000001.scope");
	set_cgroup(t, 4,
		   "/system.slice/"
		   "docker-0000000000000000000000000000000000000000000000000000000000000001.scope");
	assert_string_equal(service(lp, 1, 1), "shop");
	assert_string_equal(service(lp, 2, 1), "shop");
	assert_int_equal(name_calls, 1); /* once per cgroup path */
	/* No name found: the executable's, and that answer is cached too. */
	assert_string_equal(service(lp, 3, 1), "exe");
	assert_string_equal(service(lp, 4, 1), "exe");
	assert_int_equal(name_calls, 2);
	/* A failed lookup, not a missing name: asked again. */
	set_cgroup(t, 5,
		   "/system.slice/"
		   "docker-0000000000000000000000000000000000000000000000000000000000000002.scope");
	set_cgroup(t, 6,
		   "/system.slice/"
		   "docker-0000000000000000000000000000000000000000000000000000000000000002.scope");
	assert_string_equal(service(lp, 5, 1), "exe");
	assert_string_equal(service(lp, 6, 1), "exe");
	assert_int_equal(name_calls, 4);
	label_providers__free(lp);

	/* The first provider to name the service wins; every one adds labels. */
	p[0] = (struct label_provider){ .name = "first", .lookup = name_all };
	label_provider_systemd(&p[1]);
	label_provider_exe(&p[2]);
	lp = label_providers__new_with(t->dir, 0, p, 3);
	assert_non_null(lp);
	set_cgroup(t, 1, "/system.slice/nginx.service");
	assert_int_equal(label_providers__lookup(lp, 1, 1, "nginx", &si), 0);
	assert_string_equal(si->service, "first");
	assert_string_equal(service_info__get(si, "first"), "yes");
	assert_string_equal(service_info__get(si, "systemd_unit"), "nginx.service");
	label_providers__free(lp);
}

static void test_service_info_bounds(void **state)
{
	struct service_info si = { 0 };
	char big[400];

	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(service_info__add(&si, "a", "1"), 0);
	assert_int_equal(service_info__add(&si, "a", "2"), 0);
	assert_string_equal(service_info__get(&si, "a"), "1");
	assert_int_equal(si.nlabels, 1);
	/* Room for two long values (container and pod names), not a third. */
	assert_int_equal(service_info__add(&si, "b", big), 0);
	assert_int_equal(service_info__add(&si, "c", big), 0);
	assert_int_equal(service_info__add(&si, "d", big), -ENOSPC);
	assert_null(service_info__get(&si, "d"));
	for (int i = 0; i < SERVICE_LABELS_MAX; i++) {
		char name[8];

		snprintf(name, sizeof(name), "n%d", i);
		service_info__add(&si, name, "x");
	}
	assert_int_equal(si.nlabels, SERVICE_LABELS_MAX);
	assert_int_equal(service_info__add(&si, "z", "x"), -ENOSPC);

	assert_true(service_info__propose(&si, "first"));
	assert_false(service_info__propose(&si, "second"));
	assert_string_equal(si.service, "first");
	memset(&si, 0, sizeof(si));
	assert_false(service_info__propose(&si, ""));
	assert_true(service_info__propose(&si, big));
	assert_int_equal(strlen(si.service), SERVICE_NAME_MAX - 1);
}

static void test_label_spec(void **state)
{
	char name[LABEL_NAME_MAX], value[LABEL_VALUE_MAX], tiny[4];

	assert_int_equal(label_parse_spec("cluster=prod", name, sizeof(name), value, sizeof(value)),
			 0);
	assert_string_equal(name, "cluster");
	assert_string_equal(value, "prod");
	assert_int_equal(label_parse_spec("_x9=a=b c", name, sizeof(name), value, sizeof(value)),
			 0);
	assert_string_equal(name, "_x9");
	assert_string_equal(value, "a=b c");
	assert_int_equal(label_parse_spec("_=1", name, sizeof(name), value, sizeof(value)), 0);

	static const char *bad[] = {
		"cluster",	  "=prod",   "cluster=",   "9lives=x", "clus-ter=x",
		"clus ter=x",	  "é=x",     "__name__=x", "__x=y",    "__=y",
		"service_name=x", "node=n1", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(label_parse_spec(bad[i], name, sizeof(name), value, sizeof(value)),
				 -EINVAL);
	}
	/* Bounds: name and value each with their terminating NUL. */
	assert_int_equal(label_parse_spec("long=x", tiny, sizeof(tiny), value, sizeof(value)),
			 -EINVAL);
	assert_int_equal(label_parse_spec("abc=long", name, sizeof(name), tiny, sizeof(tiny)),
			 -EINVAL);
	assert_int_equal(label_parse_spec("abc=lon", tiny, sizeof(tiny), value, 4), 0);
	assert_string_equal(tiny, "abc");
	assert_string_equal(value, "lon");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_cgroup_container),
		cmocka_unit_test_setup_teardown(test_pid_reuse, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_shared_answers, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_cache_bound, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_name_hook_and_order, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_service_info_bounds),
		cmocka_unit_test(test_label_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
