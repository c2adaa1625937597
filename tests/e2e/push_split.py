#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Splits a saved PushRequest body into its series, for the agent's tests.

    push_split.py BODY OUTDIR

For each RawProfileSeries i and each of its RawSamples j, writes
OUTDIR/<body>-i-j.pb.gz (the raw_profile) and OUTDIR/<body>-i-j.labels
(one NAME=VALUE a line, in order), using the field numbers of Pyroscope's
push.proto: PushRequest.series 1; RawProfileSeries.labels 1, .samples 2;
LabelPair.name 1, .value 2; RawSample.raw_profile 1, .ID 2.
"""
import os
import sys


def fields(buf):
    """(number, wire type, value) of each field of one message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            val = buf[i:i + n]
            if len(val) != n:
                raise ValueError("truncated field %d" % num)
            i += n
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        yield num, wire, val


def varint(buf, i):
    shift = val = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return val, i


def main():
    body, out = sys.argv[1], sys.argv[2]
    base = os.path.splitext(os.path.basename(body))[0]
    data = open(body, "rb").read()
    for i, (num, _, series) in enumerate(f for f in fields(data) if f[0] == 1):
        labels, samples = [], []
        for n, _, v in fields(series):
            if n == 1:
                kv = {k: val.decode() for k, _, val in fields(v)}
                labels.append("%s=%s" % (kv.get(1, ""), kv.get(2, "")))
            elif n == 2:
                samples.append({k: val for k, _, val in fields(v)})
        for j, s in enumerate(samples):
            name = os.path.join(out, "%s-%d-%d" % (base, i, j))
            with open(name + ".pb.gz", "wb") as f:
                f.write(s.get(1, b""))
            with open(name + ".labels", "w") as f:
                f.write("\n".join(labels + ["ID=%s" % s.get(2, b"").decode()]) + "\n")


if __name__ == "__main__":
    main()
