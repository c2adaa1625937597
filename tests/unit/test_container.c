// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
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
#include "capture/capture.h"
#include "capture/session.h"
#include "proc/procs.h"
#include "profile/profile.h"
#include "proc/container.h"

#define ROOT "tests/fixtures/containers/root"
#define PROCFS "tests/fixtures/containers/proc"
/* Real: podman + runc on this project's CI machine, one with Kubernetes annotations. */
#define PODMAN_K8S "4b0d73e0d1a7031ef45fff5e7c754df3cd11754e78240e752b399af5f8c7eabf"
#define PODMAN "78a4251f19b475de835369a46aecd50181ecbe245a3dde53d8870bc5b8d5e01a"
#define X32(s) s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s
#define CONTAINERD X32("c1")
#define DOCKER X32("d0")
#define CRIO X32("e0")
#define RUNC_NO_BUNDLE X32("f0")
#define DEEP X32("ab")
#define HOSTILE X32("0a")
#define UNKNOWN X32("12")

struct want {
	const char *id, *name, *pod, *ns, *service;
};

/* clang-format off */
static const struct want wants[] = {
	{ PODMAN_K8S, "server", "checkout-7f9c8d-x2k4q", "shop", "shop/checkout" },
	{ PODMAN, "meta-plain", "", "", "meta-plain" },
	{ CONTAINERD, "api", "api-5d8f7c9b4-qwzx9", "prod", "prod/api" },
	{ DOCKER, "web", "", "", "web" },
	{ CRIO, "redis", "redis-0", "cache", "cache/redis" },
	{ RUNC_NO_BUNDLE, "worker", "batch-28391040-k2p9x", "jobs", "jobs/batch" },
	/* Names that cannot be true are left out; the engine's name stays. */
	{ HOSTILE, "hostile", "", "", "hostile" },
};
/* clang-format on */

static void test_read_meta(void **state)
{
	struct container_meta m;
	char svc[512];

	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		print_message("%s\n", wants[i].id);
		assert_int_equal(container_read_meta(ROOT, wants[i].id, &m), 0);
		assert_string_equal(m.id, wants[i].id);
		assert_string_equal(m.name, wants[i].name);
		assert_string_equal(m.pod, wants[i].pod);
		assert_string_equal(m.namespace, wants[i].ns);
		container_service_name(&m, svc, sizeof(svc));
		assert_string_equal(svc, wants[i].service);
	}
	assert_int_equal(container_read_meta(ROOT, UNKNOWN, &m), -ENOENT);
	assert_string_equal(m.name, "");
	assert_int_equal(container_read_meta("tests/fixtures/containers/none", PODMAN, &m),
			 -ENOENT);
	assert_int_equal(container_read_meta(ROOT, "../../etc", &m), -EINVAL);
	/* Nesting past the limit: an error, not an absence (asked again). */
	assert_int_equal(container_read_meta(ROOT, DEEP, &m), -EIO);
}

/* A root with one config.json of size bytes of valid JSON. */
static void test_size_limit(void **state)
{
	char dir[] = "/tmp/test_container.XXXXXX", path[256], cmd[300];
	struct container_meta m;
	size_t sizes[] = { 4u << 20, (4u << 20) + 1 };
	FILE *f;

	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
			 "mkdir -p %s/var/lib/containers/storage/overlay-containers/%s/userdata",
			 dir, UNKNOWN);
		assert_int_equal(system(cmd), 0);
		snprintf(path, sizeof(path),
			 "%s/var/lib/containers/storage/overlay-containers/%s/userdata/config.json",
			 dir, UNKNOWN);
		f = fopen(path, "w");
		assert_non_null(f);
		/* {"annotations":{"io.kubernetes.pod.name":"p"},"pad":"xxx..."} */
		fprintf(f, "{\"annotations\":{\"io.kubernetes.pod.name\":\"p\"},\"pad\":\"");
		while ((size_t)ftell(f) < sizes[i] - 2)
			fputc('x', f);
		fputs("\"}", f);
		fclose(f);
		print_message("%zu bytes\n", sizes[i]);
		if (i == 0) {
			assert_int_equal(container_read_meta(dir, UNKNOWN, &m), 0);
			assert_string_equal(m.pod, "p");
		} else {
			assert_int_equal(container_read_meta(dir, UNKNOWN, &m), -EIO);
			assert_string_equal(m.pod, "");
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_workload(void **state)
{
	static const char *const cases[][2] = {
		{ "checkout-7f9c8d-x2k4q", "checkout" }, /* Deployment */
		{ "api-5d8f7c9b4-qwzx9", "api" },	 /* Deployment, 9-char hash */
		{ "my-shop-api-6c9d7b8f5d-2xq4z", "my-shop-api" },
		{ "fluentd-x2k4q", "fluentd" },	     /* DaemonSet, Job */
		{ "batch-28391040-k2p9x", "batch" }, /* CronJob */
		{ "web-0", "web" },		     /* StatefulSet */
		{ "kafka-broker-12", "kafka-broker" },
		{ "nginx-proxy", "nginx-proxy" }, /* vowels: not generated */
		{ "app-v2", "app-v2" },
		{ "checkout", "checkout" },
		{ "x2k4q", "x2k4q" }, /* nothing before the suffix */
		{ "-x2k4q", "-x2k4q" },
		{ "a-b1c2d-x2k4q", "a-b1c2d" }, /* "1" is not in the alphabet */
		{ "", "" },
	};
	char out[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k8s_workload(cases[i][0], out, sizeof(out));
		print_message("%s\n", cases[i][0]);
		assert_string_equal(out, cases[i][1]);
	}
}

static void test_cgroup_shapes(void **state)
{
	struct container_ref c;
	char text[4096];
	FILE *f;
	size_t n;

	/* Podman with cgroupfs on a hybrid host (real): every hierarchy, and 0::. */
	f = fopen(PROCFS "/200/cgroup", "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_true(cgroup_file_container(text, "/", &c));
	assert_string_equal(c.id, PODMAN_K8S);
	assert_string_equal(c.runtime, "podman");
	/* cgroup v1 only, no name=systemd: a controller's line has it. */
	assert_true(cgroup_file_container("12:pids:/docker/" DOCKER "\n0::/\n", "/", &c));
	assert_string_equal(c.id, DOCKER);
	assert_true(cgroup_file_container(
		"4:memory:/kubepods/besteffort/pod6b1f2c3d-1234-4abc-9def-0123456789ab/" CRIO "\n",
		"", &c));
	assert_string_equal(c.pod_uid, "6b1f2c3d-1234-4abc-9def-0123456789ab");
	/* The chosen path wins over the controllers'. */
	assert_true(
		cgroup_file_container("4:memory:/docker/" DOCKER "\n", "/docker/" CRIO "/x", &c));
	assert_string_equal(c.id, CRIO);
	/* A cgroup namespace's relative path still shows the container. */
	assert_true(cgroup_file_container("0::/../../libpod-" PODMAN ".scope\n",
					  "/../../libpod-" PODMAN ".scope", &c));
	assert_string_equal(c.id, PODMAN);
	assert_false(
		cgroup_file_container("4:memory:/process_api/3a9fb570c19841ca6e2f36cd7ab7a8bc\n"
				      "1:cpu:\n2\n:\n0::/\n",
				      "/", &c));
	assert_false(cgroup_file_container(NULL, NULL, &c));
}

/* A cgroupfs in a temporary directory, so a container's cgroup can go. */
static void test_cache(void **state)
{
	char dir[] = "/tmp/test_container.XXXXXX", cg[256], cmd[300];
	const struct container_meta *m;
	struct container_stats st;
	struct container_cache *cc;
	struct container_ref c = { .runtime = "podman" };

	assert_non_null(mkdtemp(dir));
	cc = container_cache__new(ROOT, dir, 2);
	assert_non_null(cc);
	snprintf(cg, sizeof(cg), "%s/systemd/libpod_parent/libpod-" PODMAN_K8S, dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", cg);
	assert_int_equal(system(cmd), 0);

	strcpy(c.id, PODMAN_K8S);
	assert_int_equal(
		container_cache__lookup(cc, &c, "/libpod_parent/libpod-" PODMAN_K8S, getpid(), &m),
		0);
	assert_string_equal(m->pod, "checkout-7f9c8d-x2k4q");
	assert_int_equal(
		container_cache__lookup(cc, &c, "/libpod_parent/libpod-" PODMAN_K8S, getpid(), &m),
		0);
	/* Known absent: cached with only its id. */
	strcpy(c.id, UNKNOWN);
	assert_int_equal(container_cache__lookup(cc, &c, "/x", getpid(), &m), 0);
	assert_string_equal(m->id, UNKNOWN);
	assert_string_equal(m->name, "");
	assert_int_equal(container_cache__lookup(cc, &c, "/x", getpid(), &m), 0);
	container_cache__stats(cc, &st);
	assert_int_equal(st.lookups, 4);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.found, 1);
	assert_int_equal(st.absent, 1);
	assert_int_equal(st.cached, 2);

	/* Unreadable state: not an answer, asked again each time. */
	strcpy(c.id, DEEP);
	container_cache__lookup(cc, &c, "/y", getpid(), &m);
	container_cache__lookup(cc, &c, "/y", getpid(), &m);
	container_cache__stats(cc, &st);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.evicted_cap, 1); /* the bound is 2 */

	/* Its cgroup gone, the container goes at the next sweep. */
	strcpy(c.id, PODMAN_K8S);
	assert_int_equal(
		container_cache__lookup(cc, &c, "/libpod_parent/libpod-" PODMAN_K8S, getpid(), &m),
		0);
	container_cache__sweep(cc);
	container_cache__stats(cc, &st);
	assert_int_equal(st.evicted, 0);
	assert_int_equal(rmdir(cg), 0);
	container_cache__sweep(cc);
	container_cache__stats(cc, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.cached, 1);
	container_cache__free(cc);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_of_pid(void **state)
{
	const struct container_meta *m;

	assert_int_equal(container_of_pid(PROCFS, 200, &m), 0);
	assert_non_null(m);
	assert_string_equal(m->id, PODMAN_K8S);
	assert_string_equal(m->namespace, "shop");
	assert_int_equal(container_of_pid(PROCFS, 201, &m), 0);
	assert_non_null(m);
	assert_string_equal(m->name, "web");
	assert_int_equal(container_of_pid(PROCFS, 204, &m), 0);
	assert_null(m);
	assert_int_equal(container_of_pid(PROCFS, 99999, &m), 0);
	assert_null(m);
	assert_int_equal(container_of_pid(PROCFS, 206, &m), 0);
	assert_non_null(m);
	assert_string_equal(m->id, UNKNOWN);
	assert_string_equal(m->name, "");
}

struct lwant {
	int pid;
	const char *service, *id, *name, *pod, *ns;
};

static void test_provider(void **state)
{
	/* clang-format off */
	static const struct lwant wants[] = {
		{ 200, "shop/checkout", PODMAN_K8S, "server", "checkout-7f9c8d-x2k4q", "shop" },
		{ 201, "web", DOCKER, "web" },
		{ 202, "prod/api", CONTAINERD, "api", "api-5d8f7c9b4-qwzx9", "prod" },
		{ 203, "cache/redis", CRIO, "redis", "redis-0", "cache" },
		{ 204, "exe" },
		{ 205, "hostile", HOSTILE, "hostile" },
		{ 206, "exe", UNKNOWN },		/* no metadata: the executable */
		{ 207, "meta-plain", PODMAN, "meta-plain" },
	};
	/* clang-format on */
	struct label_providers *lp = label_providers__new(PROCFS, 0);
	const struct service_info *si;

	assert_non_null(lp);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		const struct lwant *w = &wants[i];
		const char *v;

		print_message("pid %d\n", w->pid);
		assert_int_equal(label_providers__lookup(lp, w->pid, 1, "exe", &si), 0);
		assert_string_equal(si->service, w->service);
#define LABEL(key, field)                                                                          \
	v = service_info__get(si, key);                                                            \
	if (w->field) {                                                                            \
		assert_non_null(v);                                                                \
		assert_string_equal(v, w->field);                                                  \
	} else {                                                                                   \
		assert_null(v);                                                                    \
	}
		LABEL("container_id", id);
		LABEL("container", name);
		LABEL("pod", pod);
		LABEL("namespace", ns);
#undef LABEL
	}
	label_providers__free(lp);
}

static const char *find_label(const struct pf_label_desc *l, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(l[i].key, key))
			return l[i].str;
	return NULL;
}

/* The one-shot commands' samples: the same labels, per pid, none outside. */
static void test_sample_labels(void **state)
{
	struct pf_label_desc l[CAPTURE_KEY_LABELS_MAX];
	char comm[BPFPROF_COMM_LEN + 1];
	struct session s = { 0 };
	struct stack_key key = { .pid = 200, .tid = 201 };
	int n;

	s.procs_tab = proctab__new(PROCFS);
	assert_non_null(s.procs_tab);
	strcpy(key.comm, "spin");
	n = capture_key_labels(&s, &key, comm, l);
	assert_int_equal(n, 8);
	assert_string_equal(find_label(l, n, "container_id"), PODMAN_K8S);
	assert_string_equal(find_label(l, n, "container"), "server");
	assert_string_equal(find_label(l, n, "pod"), "checkout-7f9c8d-x2k4q");
	assert_string_equal(find_label(l, n, "namespace"), "shop");
	key.pid = 201;
	n = capture_key_labels(&s, &key, comm, l);
	assert_int_equal(n, 6);
	assert_string_equal(find_label(l, n, "container"), "web");
	assert_null(find_label(l, n, "pod"));
	key.pid = 204;
	n = capture_key_labels(&s, &key, comm, l);
	assert_int_equal(n, 4);
	assert_null(find_label(l, n, "container_id"));
	proctab__free(s.procs_tab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_meta), cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_workload),  cmocka_unit_test(test_cgroup_shapes),
		cmocka_unit_test(test_cache),	  cmocka_unit_test(test_of_pid),
		cmocka_unit_test(test_provider),  cmocka_unit_test(test_sample_labels),
	};

	/* The process-wide cache reads its root from the environment at first use. */
	setenv("BPFPROF_HOST_ROOT", ROOT, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
