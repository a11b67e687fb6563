"""A stand-in JSON API on 127.0.0.1 for the tests of clients that call one (hosted-model adapters, the MathVista
judge)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeAPI:
    """A stand-in server: records every request; answers from `script` (status, headers, body) while it lasts,
    then with `answer(path, body)`."""

    def __init__(self, answer):
        self.answer, self.requests, self.script, self.lock = answer, [], [], threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    scripted = fake.script.pop(0) if fake.script else None
                status, headers, reply = scripted or (200, {}, fake.answer(self.path, body))
                if "slow" in json.dumps(body):
                    time.sleep(0.2)  # answered after the others: the adapter must still keep the order
                data = json.dumps(reply).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
