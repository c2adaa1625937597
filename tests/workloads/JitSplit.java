// SPDX-License-Identifier: Apache-2.0
// Three methods whose shares of CPU are 50/30/20: each runs the same loop
// for its number of rounds per pass.  Prints "ready PID", then runs for the
// number of seconds given.
public final class JitSplit {
	static long work(long n, long x) {
		for (long i = 0; i < n; i++)
			x = (x * 1103515245L + 12345L) % 2147483647L;
		return x;
	}

	static long alpha(long n) { return work(5 * n, 1); }

	static long beta(long n) { return work(3 * n, 2); }

	static long gamma(long n) { return work(2 * n, 3); }

	public static void main(String[] args) {
		long end = System.nanoTime() + Long.parseLong(args[0]) * 1_000_000_000L, sink = 0;
		System.out.println("ready " + ProcessHandle.current().pid());
		while (System.nanoTime() < end)
			sink += alpha(20000) + beta(20000) + gamma(20000);
		System.out.println(sink == 42 ? "" : "done");
	}
}
