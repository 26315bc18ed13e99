#!/usr/bin/env python3
"""Cold init of the deployable target-api binary: spawn -> first GET /runtime/invocation/next.

Prints the stripped binary's size and the median (and min/max) init time over N spawns.
The function builds its DynamoDB client during init, exactly as on Lambda; nothing is sent
to DynamoDB (credentials and region come from dummy env vars, endpoint is loopback).

Usage: bench/target-api-init.py [binary] [--runs N]
  binary defaults to dist/lambda/bootstrap (build it with scripts/build-lambda.sh).

Loopback only. The clock starts just before the spawn call, so the figure includes the
fork/exec cost of this Python process (~0.3-1 ms) on top of the binary's own start.
Targets (issue 2): init <= 15 ms median, binary <= 8 MB.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

def main():
    args = [a for a in sys.argv[1:]]
    runs = 20
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    binary = args[0] if args else "dist/lambda/bootstrap"
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: run scripts/build-lambda.sh first (or pass the binary path)")

    times = []
    for _ in range(runs):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": "target-api",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "TABLE_NAME": "bench",
        }
        t0 = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv.settimeout(10)
        conn, _ = srv.accept()
        data = b""
        while b"\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        t1 = time.perf_counter()
        if not data.startswith(b"GET /2018-06-01/runtime/invocation/next"):
            sys.exit(f"unexpected first request: {data[:80]!r}")
        times.append((t1 - t0) * 1000)
        proc.kill()
        proc.wait()
        conn.close()
        srv.close()

    size = os.path.getsize(binary)
    print(f"binary      {binary}: {size / 1e6:.2f} MB ({size} bytes), target <= 8 MB")
    print(f"cold init   median {statistics.median(times):.2f} ms  min {min(times):.2f}  max {max(times):.2f}  "
          f"over {runs} spawns (spawn -> first GET /next), target <= 15 ms")

if __name__ == "__main__":
    main()
