// SPDX-License-Identifier: Apache-2.0
module bpfprof/goburn

go 1.19
