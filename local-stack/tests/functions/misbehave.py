#!/usr/bin/env python3
"""A deliberately misbehaving Lambda function for local-stack's tests, speaking the real
Runtime API (2018-06-01). Its path decides what it does:

  /sleep/<ms>   answer 200 after <ms> milliseconds
  /spin/<ms>    answer 200 after <ms> milliseconds of CPU time (a busy loop)
  /crash        exit the process mid-invocation
  /error        POST /error (an unhandled function error)
  /malformed    answer with a payload that is not JSON
  /echo…        answer 200 with the event it received as the body
  /env          answer 200 with its environment variables as a JSON object
  anything else answer 200 {"ok":true}

INIT_MODE (environment): "fail" posts /runtime/init/error and exits; "crash" exits before
the first /next; "slow:<ms>" sleeps that long before the first /next.
"""
import http.client, json, os, sys, time

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
mode = os.environ.get("INIT_MODE", "")
host, port = api.split(":")
conn = http.client.HTTPConnection(host, int(port))

def post(path, body, headers=None):
    conn.request("POST", path, body=body, headers=headers or {})
    conn.getresponse().read()

if mode == "fail":
    post("/2018-06-01/runtime/init/error", json.dumps({"errorMessage": "config missing", "errorType": "Init.ConfigError"}),
         {"Lambda-Runtime-Function-Error-Type": "Init.ConfigError"})
    sys.exit(1)
if mode == "crash":
    sys.exit(3)
if mode.startswith("slow:"):
    time.sleep(int(mode.split(":")[1]) / 1000)

while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    event_bytes = r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(event_bytes)
    path = event.get("rawPath") or event.get("path", "/")
    base = f"/2018-06-01/runtime/invocation/{rid}"
    if path.startswith("/sleep/"):
        time.sleep(int(path.split("/")[2]) / 1000)
        post(base + "/response", json.dumps({"statusCode": 200, "body": "slept"}))
    elif path.startswith("/spin/"):
        t0 = time.process_time()
        while time.process_time() - t0 < int(path.split("/")[2]) / 1000:
            pass
        post(base + "/response", json.dumps({"statusCode": 200, "body": "spun"}))
    elif path == "/crash":
        os._exit(7)
    elif path == "/error":
        post(base + "/error", json.dumps({"errorMessage": "boom", "errorType": "Handler.Boom"}),
             {"Lambda-Runtime-Function-Error-Type": "Handler.Boom"})
    elif path == "/malformed":
        post(base + "/response", b"this is not json")
    elif path == "/env":
        post(base + "/response", json.dumps({"statusCode": 200, "headers": {"content-type": "application/json"},
             "body": json.dumps(dict(os.environ))}))
    elif path.startswith("/echo"):
        post(base + "/response", json.dumps({"statusCode": 200, "headers": {"content-type": "application/json",
             "access-control-allow-origin": "https://evil.example"}, "body": event_bytes.decode()}))
    else:
        post(base + "/response", json.dumps({"statusCode": 200, "headers": {"content-type": "application/json"},
             "cookies": ["a=1; Path=/", "b=2"], "body": json.dumps({"ok": True})}))
