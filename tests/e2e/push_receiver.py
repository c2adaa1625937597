#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for Grafana Pyroscope's push endpoint, for the agent's tests.

    push_receiver.py --port 0 --dir DIR --port-file F

Saves the body of each POST as DIR/NNNNN.bin and its request line and
headers as DIR/NNNNN.hdr, answers 200, and writes the port it bound to F
(atomically, once listening).  Stopped and started again with --port N it
binds the same port (SO_REUSEADDR) and numbers its files on from those
already in DIR, so a test can simulate an outage.
"""
import argparse
import http.server
import os
import re
import signal
import sys
import threading


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    next_seq = 1
    directory = "."
    status = 200

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.answer(411)
            return
        body = self.rfile.read(length)
        with Receiver.lock:
            seq = Receiver.next_seq
            Receiver.next_seq += 1
        base = os.path.join(Receiver.directory, "%05d" % seq)
        # Headers first and each file renamed into place: a reader that sees
        # NNNNN.bin finds a whole body and its headers.
        self.save(base + ".hdr", (self.requestline + "\n" + str(self.headers)).encode())
        self.save(base + ".bin", body)
        self.answer(Receiver.status)

    def save(self, path, data):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Type", "application/proto")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def first_free_seq(directory):
    seqs = [int(m.group(1)) for m in
            (re.fullmatch(r"(\d+)\.bin", n) for n in os.listdir(directory)) if m]
    return max(seqs, default=0) + 1


def stop(signum, frame):
    # SIGTERM ends it as Ctrl-C does, closing the socket.
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--status", type=int, default=200, help="the answer to every POST")
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    Receiver.directory = args.dir
    Receiver.status = args.status
    Receiver.next_seq = first_free_seq(args.dir)
    try:
        server = Server((args.host, args.port), Receiver)
    except OSError as e:
        print("push_receiver: cannot listen on %s:%d: %s" % (args.host, args.port, e.strerror),
              file=sys.stderr)
        return 1
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.rename(args.port_file + ".tmp", args.port_file)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
