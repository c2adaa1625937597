// SPDX-License-Identifier: Apache-2.0

// Command goburn burns CPU in a few functions with a known split while it
// writes its own CPU profile with runtime/pprof, so that a profile taken
// from outside (bpfprof) can be compared with Go's own.
//
// usage: goburn SECONDS PROFILE
//
// Prints "ready <pid>" on stderr once its profile is running, burns for
// SECONDS, then writes PROFILE and exits.
//
// Each round does 10 units of the same loop:
//
//	main.run -> main.direct -> main.leaf                                3 units (30%)
//	main.run -> main.outer -> main.middle -> main.inner                 1 unit  (10%)
//	main.run -> main.outer -> main.middle -> main.inner -> main.leaf    3 units (30%)
//	main.run -> main.self                                               3 units (30%)
//
// main.leaf and main.self are frameless leaves (no calls, no stack frame,
// no frame pointer saved); main.leaf is called from two places.  A
// frame-pointer walk from a frameless leaf finds its caller's caller and
// loses the caller.  The other functions have frames; main.inner also burns
// CPU itself.  Nothing is inlined and no call is in a tail position, so
// every frame is on the stack.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"time"
)

// unit is the loop count of one unit: about 25 ms here, so a round
// takes about 250 ms.  Phases this long are what makes the two profiles
// comparable within a few points: each profiler then counts, per phase,
// its length divided by its sampling period give or take one sample,
// while short phases make every sample a random draw and Go's 100 Hz
// profile alone would be off by 2 points in 5 seconds.
const unit = 15000000

var sink uint64

// The loops below are the same code written out in each function: a
// shared helper would be inlined and show up as a frame of its own.

//go:noinline
func leaf(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

//go:noinline
func direct(x uint64) uint64 {
	y := leaf(3*unit, x)
	sink = y
	return y + 1
}

//go:noinline
func inner(x uint64) uint64 {
	for i := 0; i < unit; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	y := leaf(3*unit, x)
	sink = y
	return y + 1
}

//go:noinline
func middle(x uint64) uint64 {
	y := inner(x)
	sink = y
	return y + 1
}

//go:noinline
func outer(x uint64) uint64 {
	y := middle(x)
	sink = y
	return y + 1
}

//go:noinline
func self(x uint64) uint64 {
	for i := 0; i < 3*unit; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink = x
	return x + 1
}

//go:noinline
func run(end time.Time) uint64 {
	x := uint64(88172645463325252)
	rounds := uint64(0)

	for time.Now().Before(end) {
		x = direct(x)
		x = outer(x)
		x = self(x)
		rounds++
	}
	sink = x
	return rounds
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goburn SECONDS PROFILE")
		os.Exit(2)
	}
	secs, err := strconv.ParseFloat(os.Args[1], 64)
	if err != nil || secs <= 0 {
		fmt.Fprintf(os.Stderr, "goburn: bad SECONDS %q\n", os.Args[1])
		os.Exit(2)
	}
	f, err := os.Create(os.Args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "goburn: %v\n", err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "goburn: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "ready %d\n", os.Getpid())
	rounds := run(time.Now().Add(time.Duration(secs * float64(time.Second))))
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "goburn: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "done %d rounds\n", rounds)
}
