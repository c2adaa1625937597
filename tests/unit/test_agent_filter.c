// SPDX-License-Identifier: Apache-2.0
/* agent/filter.c: which services a /debug/pprof request's filters select. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/filter.h"

#define ID "4f9c2b7e1d3a5c8e0b6f4d2a9c7e5b3d1f8a6c4e2b0d9f7a5c3e1b8d6f4a2c0e"

/* A pod's container, as the container provider labels its service. */
static char *keys[] = { "container_id", "container", "pod", "namespace" };
static char *vals[] = { ID, "checkout", "checkout-7f9", "shop" };
/* A container outside Kubernetes: no pod, no namespace. */
static char *bare_keys[] = { "container_id", "container" };
static char *bare_vals[] = { "77aa", "web" };

static bool pod_svc(const struct agent_filter *f)
{
	return agent_filter__match(f, "shop/checkout", 4, keys, vals);
}

static bool bare_svc(const struct agent_filter *f)
{
	return agent_filter__match(f, "web", 2, bare_keys, bare_vals);
}

static bool plain_svc(const struct agent_filter *f)
{
	return agent_filter__match(f, "nginx", 0, NULL, NULL);
}

static void test_no_filter(void **state)
{
	struct agent_filter none = { 0 };

	assert_true(agent_filter__empty(NULL));
	assert_true(agent_filter__empty(&none));
	assert_true(pod_svc(NULL) && bare_svc(NULL) && plain_svc(NULL));
	assert_true(pod_svc(&none) && bare_svc(&none) && plain_svc(&none));
}

static void test_each_filter(void **state)
{
	struct agent_filter f;

	f = (struct agent_filter){ .service = "shop/checkout" };
	assert_false(agent_filter__empty(&f));
	assert_true(pod_svc(&f));
	assert_false(bare_svc(&f) || plain_svc(&f));

	f = (struct agent_filter){ .pod = "checkout-7f9" };
	assert_false(agent_filter__empty(&f));
	assert_true(pod_svc(&f));
	assert_false(bare_svc(&f) || plain_svc(&f));
	f.pod = "checkout-7f"; /* names are whole */
	assert_false(pod_svc(&f));

	f = (struct agent_filter){ .namespace = "shop" };
	assert_true(pod_svc(&f));
	assert_false(bare_svc(&f) || plain_svc(&f));
	f.namespace = "default";
	assert_false(pod_svc(&f));

	f = (struct agent_filter){ .container = "web" };
	assert_true(bare_svc(&f));
	assert_false(pod_svc(&f) || plain_svc(&f));
	f.container = "shop/checkout"; /* the service's name is not the container's */
	assert_false(pod_svc(&f));

	f = (struct agent_filter){ .container_id = "4f9c2b7e1d3a" };
	assert_true(pod_svc(&f));
	assert_false(bare_svc(&f) || plain_svc(&f));
	f.container_id = ID;
	assert_true(pod_svc(&f));
	f.container_id = ID "0"; /* longer than the id */
	assert_false(pod_svc(&f));
	f.container_id = "f9c2"; /* a prefix, not a substring */
	assert_false(pod_svc(&f));
}

static void test_all_given_must_match(void **state)
{
	struct agent_filter f = { .pod = "checkout-7f9",
				  .namespace = "shop",
				  .container = "checkout",
				  .container_id = "4f9c" };

	assert_true(pod_svc(&f));
	f.namespace = "prod";
	assert_false(pod_svc(&f));
	f = (struct agent_filter){ .service = "web", .container = "checkout" };
	assert_false(bare_svc(&f) || pod_svc(&f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_filter),
		cmocka_unit_test(test_each_filter),
		cmocka_unit_test(test_all_given_must_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
