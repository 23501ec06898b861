"""The benchmarks' HTTP client, run in a process of its own (bench.server.Served starts it).

A real frontend never shares the service's process: a client thread there would take the GIL
from the server for its JSON and socket work (measured: 0.14 ms of a 0.6 ms no-op request). It
keeps one keep-alive connection and times each request from the first byte sent to the last
byte received; the body arrives encoded, so encoding it is not in the figure.

Framing on stdin/stdout: a JSON header line, then `length` bytes of body, both ways.

    python -m bench.client PORT
"""

import http.client
import json
import sys
import time


def main() -> None:
    port = int(sys.argv[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    for line in source:
        request = json.loads(line)
        body = source.read(request["length"]) if request["length"] else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        conn.request(request["method"], request["path"], body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        seconds = time.perf_counter() - started
        sink.write(
            json.dumps({"status": response.status, "seconds": seconds, "length": len(content)}).encode()
            + b"\n"
            + content
        )
        sink.flush()


if __name__ == "__main__":
    main()
