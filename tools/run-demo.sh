#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: profile the bundled demo workload (three CPU burners taking
# 50/30/20% of its CPU, two threads, 5 seconds) and print the top table.
set -eu
cd "$(dirname "$0")/.."
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "profiling: build/workloads/cpu_split 5 2 (burn_a 50%, burn_b 30%, burn_c 20%)"
exec $sudo build/bpfprof cpu -o build/demo-cpu.pb.gz -- build/workloads/cpu_split 5 2
