// SPDX-License-Identifier: Apache-2.0
/*
 * C++ allocations through new and delete, for the heap profile's tests.
 *
 * usage: heap_cxx SCALE
 *   make_nodes: keeps SCALE * 8192 nodes of 48 bytes (new Node);
 *   make_buffers: keeps SCALE * 16 buffers of 64 KiB (new char[]);
 *   churn_vectors: fills and drops SCALE * 1024 vectors of 1024 ints
 *       (their 4 KiB arrays are allocated and freed by std::allocator).
 * Prints "ready <pid>" on stderr, then "<function> <bytes kept>" lines, and
 * exits without freeing what it keeps.  The allocations start when the file
 * named by $HEAP_CXX_GO exists, if set (so a profiler can attach with -p).
 */
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <vector>

struct Node {
	Node *next;
	long payload[5];
};

static void *volatile sink;

__attribute__((noinline)) Node *make_nodes(long n)
{
	Node *head = nullptr;

	for (long i = 0; i < n; i++) {
		Node *node = new Node();
		node->next = head;
		head = node;
	}
	return head;
}

__attribute__((noinline)) char **make_buffers(long n)
{
	char **v = new char *[n];

	for (long i = 0; i < n; i++) {
		v[i] = new char[64 * 1024];
		v[i][0] = 1;
	}
	return v;
}

__attribute__((noinline)) void churn_vectors(long n)
{
	for (long i = 0; i < n; i++) {
		std::vector<int> v(1024, 1);
		sink = v.data();
	}
}

int main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;

	const char *go = getenv("HEAP_CXX_GO");

	fprintf(stderr, "ready %d\n", getpid());
	while (go && access(go, F_OK))
		usleep(10000);
	sink = make_nodes(scale * 8192);
	sink = make_buffers(scale * 16);
	churn_vectors(scale * 1024);
	printf("make_nodes %ld\n", scale * 8192 * (long)sizeof(Node));
	printf("make_buffers %ld\n", scale * 16 * (64 * 1024 + 8));
	printf("churn_vectors 0\n");
	fflush(stdout);
	usleep(go ? 1000000 : 200000);
	return 0;
}
