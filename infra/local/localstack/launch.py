"""Starts LocalStack (host mode, no Docker) for the bulkops local stack.

infra/local/stack.sh runs it with the virtualenv that infra/local/install.sh
made from requirements.lock, and with every setting in the environment
(127.0.0.1 only, all state under .tools/localstack/). Two things differ
from a plain `python -m localstack.runtime.main`:

* DynamoDB: LocalStack's DynamoDB provider normally downloads DynamoDB
  Local and a Java of its own at first use, which these machines cannot
  fetch. Here it forwards to the project's own DynamoDB Local (the one
  stack.sh starts, pinned by Maven), at DYNAMODB_LOCAL_PORT on 127.0.0.1:
  the provider's "start the server" and "stop the server" steps only wait
  for that server and leave it running.
* Lambda: the runtime executor is `local-process`
  (bulkops_localstack/executor.py, registered by the dist-info folder next
  to it, which is on PYTHONPATH): each function's bootstrap runs as a
  local process behind a Lambda Runtime API, instead of in a container.
"""

import os
import sys


def use_project_dynamodb_local() -> None:
    from localstack.services.dynamodb import server

    port = int(os.environ["DYNAMODB_LOCAL_PORT"])

    def start_dynamodb(self) -> bool:
        # The server runs already (stack.sh started it first); wait until
        # it answers, as LocalStack does after starting its own (its health
        # check first waits for the "started" mark its own start sets).
        self._started.set()
        self.wait_for_dynamodb()
        return True

    def stop_dynamodb(self) -> None:
        # Not ours to stop: stack.sh stops DynamoDB Local by its PID.
        return None

    server.DynamodbServer.start_dynamodb = start_dynamodb
    server.DynamodbServer.stop_dynamodb = stop_dynamodb
    # Reach it on the IPv4 loopback it binds to, not "localhost".
    original_init = server.DynamodbServer.__init__

    def init(self, port_=None, host="localhost", db_path=None):
        original_init(self, port_ or port, "127.0.0.1", db_path)

    server.DynamodbServer.__init__ = init


def main() -> None:
    use_project_dynamodb_local()
    from localstack.runtime import main as runtime_main

    sys.argv[0] = "localstack"
    runtime_main.main()


if __name__ == "__main__":
    main()
